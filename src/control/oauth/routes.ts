import { readForm } from '../../http/body.js'
import type { Router } from '../../http/router.js'
import { GRANT, PATHS } from '../../identity/endpoints.js'
import type { ControlDeps } from '../deps.js'
import { ok, type Handler } from '../handler.js'
import { showDevice, submitDevice } from '../pages/device.js'
import { showSignIn, signOut, submitSignIn } from '../pages/signin.js'
import { unauthenticated } from '../caller.js'
import type { SessionAuth } from '../session-auth.js'
import { authorizationCodeGrant } from './authorization-code-grant.js'
import { authorizeEndpoint } from './authorize.js'
import { deviceAuthorizationEndpoint } from './device-authorization.js'
import { deviceCodeGrant } from './device-code-grant.js'
import { jwtBearerGrant } from './jwt-bearer-grant.js'
import type { Grant } from './token-endpoint.js'

/** The sign-in grants, registered with the token endpoint by the composition root. */
export const signInGrants: Partial<Record<string, Grant>> = {
  [GRANT.authorizationCode]: authorizationCodeGrant,
  [GRANT.deviceCode]: deviceCodeGrant,
  [GRANT.jwtBearer]: jwtBearerGrant,
}

/** Browser sign-in: the authorize and device endpoints, the pages, and the console's session view. */
export function signInRoutes(deps: ControlDeps, sessions: SessionAuth) {
  const authorize = authorizeEndpoint(deps, sessions)
  const device = deviceAuthorizationEndpoint(deps)
  const signInPage = showSignIn(deps, sessions)
  const signInPost = submitSignIn(deps)
  const devicePage = showDevice(deps, sessions)
  const devicePost = submitDevice(deps, sessions)
  const out = signOut(deps, sessions)
  const rawQuery = (url: string | undefined) => (url && url.includes('?') ? url.slice(url.indexOf('?') + 1) : '')
  return (r: Router<Handler>): void => {
    r.add('GET', PATHS.authorize, async (c) => (await authorize(c.req, c.res, c.query, rawQuery(c.req.url)), 'sent'))
    // OIDC Core §3.1.2.1: the authorization endpoint takes POST (form-encoded) as well as GET.
    r.add('POST', PATHS.authorize, async (c) => {
      const query = new URLSearchParams([...(await readForm(c.req))])
      // The consent page's own fields are not the request's (pages/authorize-consent.ts).
      const answer = { csrfToken: query.get('csrf_token'), consent: query.get('consent') }
      query.delete('csrf_token')
      query.delete('consent')
      await authorize(c.req, c.res, query, query.toString(), answer)
      return 'sent'
    })
    r.add('POST', PATHS.deviceAuthorization, async (c) => (await device(c.req, c.res), 'sent'))
    r.add('GET', PATHS.signin, async (c) => (await signInPage(c.req, c.res, c.query), 'sent'))
    r.add('POST', PATHS.signin, async (c) => (await signInPost(c.req, c.res), 'sent'))
    r.add('GET', PATHS.device, async (c) => (await devicePage(c.req, c.res, c.query), 'sent'))
    r.add('POST', PATHS.device, async (c) => (await devicePost(c.req, c.res), 'sent'))
    r.add('POST', PATHS.signout, async (c) => (await out(c.req, c.res), 'sent'))
    r.add('GET', '/v1/session', async (c) => {
      const active = await sessions.current(c.req)
      if (!active) throw unauthenticated('No session: sign in at /signin.')
      // uid: who the session is of, beyond an email two federated pools may share (the console tells sessions apart by it).
      return ok({ email: active.email, uid: active.record.subjectUid, csrfToken: active.record.csrfToken, expireTime: new Date(active.record.expireTime).toISOString() })
    })
  }
}
