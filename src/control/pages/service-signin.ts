import type { IncomingMessage, ServerResponse } from 'node:http'
import { randomToken, sha256 } from '../../core/ids.js'
import type { Router } from '../../http/router.js'
import { PATHS } from '../../identity/endpoints.js'
import { readCookie, sessionCookieName } from '../../identity/sessions.js'
import { POSTERN_PATHS, returnPathOf } from '../../http/postern-paths.js'
import { serviceName } from '../../iam/resources.js'
import type { ServiceRecord } from '../../store/records.js'
import type { ControlDeps } from '../deps.js'
import type { Handler } from '../handler.js'
import type { SessionAuth } from '../session-auth.js'
import { serviceAtUrl, serviceUri } from '../../iam/service-url.js'
import { errorLine, escapeHtml, page, redirect, sendPage } from '../../http/html-page.js'

/**
 * The sign-in hand-off for browsers opening a private service (the identity-aware-proxy pattern).
 * The gateway sends a browser without a session here with the URL it asked for and a fresh
 * state; once the person is signed in (the same /signin, the same accounts, the same workforce
 * providers), this page mints a one-time code bound to that service, that path, that state and
 * this sign-in session, and sends the browser to the service's /_postern/callback, where the
 * gateway redeems it server side and sets the service's own session cookie. No token ever
 * travels in a URL, and nothing here redirects anywhere but to a service's callback.
 *
 * `prompt=login` (from "Sign in as someone else") shows the sign-in form even to someone
 * signed in; signing in there ends the old sign-in, and every service session made from it.
 */
export const SERVICE_SIGN_IN_PATH = '/signin/service'
const STATE = /^[A-Za-z0-9_-]{43}$/
const CODE_TTL_MS = 60_000

function failure(res: ServerResponse, status: number, message: string): void {
  sendPage(res, status, page('Cannot sign in', `<h1>Cannot open this service</h1>${errorLine(message)}`))
}

/** A page that goes on to `url` at once: a navigation this page starts is same-site here and not part of a form post's redirects. */
function onward(res: ServerResponse, url: string, title: string, text: string): void {
  sendPage(res, 200, page(title, `<meta http-equiv="refresh" content="0;url=${escapeHtml(url)}">
<h1>${escapeHtml(title)}</h1><p>${escapeHtml(text)} <a href="${escapeHtml(url)}">Continue</a></p>`))
}

type Target = { service: ServiceRecord; uri: string; path: string } | { error: string }

/** The service and path a return URL names: exactly a service URL's origin, a safe path on it, a service that admits browsers. */
function targetOf(deps: ControlDeps, raw: string | null): Target {
  let url: URL
  try {
    url = new URL(raw ?? '')
  } catch {
    return { error: 'The address to return to is not a URL.' }
  }
  const at = serviceAtUrl(url, deps.settings.gatewayUrl)
  if (!at || url.hash) return { error: `Postern signs browsers in only for its own services; ${url.origin.slice(0, 200)} is not one.` }
  const service = deps.directory.service(at.projectId, at.serviceId)
  if (!service) return { error: `There is no service at ${url.origin}.` }
  if (!service.browserAccess) {
    return { error: `Browser sign-in is turned off for ${serviceName(at.projectId, at.serviceId)}; an admin can turn it on: postern services update ${at.serviceId} --project=${at.projectId} --browser-access=on` }
  }
  const path = returnPathOf(url.pathname + url.search)
  if (!path) return { error: 'The address to return to is not a path this service can be opened at.' }
  return { service, uri: serviceUri(deps.settings.gatewayUrl, at.projectId, at.serviceId), path }
}

export function serviceSignIn(deps: ControlDeps, sessions: SessionAuth) {
  return async (req: IncomingMessage, res: ServerResponse, query: URLSearchParams): Promise<void> => {
    const state = query.get('state') ?? ''
    if (!STATE.test(state)) return failure(res, 400, 'This sign-in request is malformed: start again from the service.')
    const target = targetOf(deps, query.get('return_to'))
    if ('error' in target) return failure(res, 400, target.error)
    const active = await sessions.current(req)
    if (!active || query.get('prompt') === 'login') {
      const self = `${SERVICE_SIGN_IN_PATH}?return_to=${encodeURIComponent(target.uri + target.path)}&state=${state}`
      // The session cookie is SameSite=Strict: a browser arriving from another site (the service's
      // host is one) does not send it. Go on from a page of ours, whose navigation is same-site,
      // before concluding that no one is signed in.
      const site = req.headers['sec-fetch-site']
      if (!active && !readCookie(req.headers.cookie, sessionCookieName(deps.settings.secureCookies)) && (site === 'cross-site' || site === 'same-site')) {
        return onward(res, query.get('prompt') === 'login' ? `${self}&prompt=login` : self, 'Signing in', 'Checking whether you are signed in to Postern…')
      }
      return redirect(res, `${PATHS.signin}?return_to=${encodeURIComponent(self)}`)
    }
    const code = randomToken(32)
    const now = deps.clock()
    await deps.store.insertServiceSignInCode({
      codeHash: sha256(code),
      serviceUid: target.service.uid,
      returnPath: target.path,
      state,
      subjectUid: active.record.subjectUid,
      signInSessionHash: active.record.sessionHash,
      expireTime: now + CODE_TTL_MS,
      usedTime: null,
    })
    const resource = serviceName(target.service.projectId, target.service.serviceId)
    await deps.store.appendAudit({ time: now, principal: active.caller.member, method: 'services.browserSignIn', resource, outcome: 'OK', details: {} })
    // Onward by a page, not a redirect: after the sign-in form's post, a redirect to another
    // origin would be held to the form's CSP form-action.
    onward(res, `${target.uri}${POSTERN_PATHS.callback}?code=${code}&state=${state}`, `Opening ${target.service.serviceId}`, `Signed in as ${active.caller.member}.`)
  }
}

export function serviceSignInRoutes(deps: ControlDeps, sessions: SessionAuth) {
  const handle = serviceSignIn(deps, sessions)
  return (r: Router<Handler>): void => {
    r.add('GET', SERVICE_SIGN_IN_PATH, async (c) => (await handle(c.req, c.res, c.query), 'sent'))
  }
}
