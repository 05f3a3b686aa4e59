import { discoveryDocument, PATHS, GRANT } from '../../identity/endpoints.js'
import type { Router } from '../../http/router.js'
import { ok, type Handler } from '../handler.js'
import { refreshGrant } from '../oauth/refresh-grant.js'
import { tokenEndpoint, type Grant } from '../oauth/token-endpoint.js'
import { revokeEndpoint } from '../oauth/revoke.js'
import { userinfo } from '../oauth/userinfo.js'
import type { ControlDeps } from '../deps.js'

/** Discovery, signing keys, token, revocation and userinfo endpoints (DESIGN §3). Further grants are passed in. */
export function oidcRoutes(deps: ControlDeps, extraGrants: Partial<Record<string, Grant>> = {}) {
  const token = tokenEndpoint({ [GRANT.refreshToken]: refreshGrant, ...extraGrants }, deps)
  const revoke = revokeEndpoint(deps)
  return (r: Router<Handler>): void => {
    // Public documents any page may read, as Google serves its own: a service's web front end
    // verifying Postern's tokens fetches the keys from its own origin.
    const published = (maxAge: number) => ({ 'cache-control': `public, max-age=${maxAge}`, 'access-control-allow-origin': '*' })
    const discovery = async () => ({ body: discoveryDocument(deps.settings.issuer), headers: published(300) })
    r.add('GET', PATHS.discovery, discovery)
    r.add('GET', PATHS.authorizationServerMetadata, discovery)
    r.add('GET', PATHS.jwks, async () => ({ body: deps.keyring.jwks(), headers: published(60) }))
    r.add('GET', PATHS.certs, async () => ({ body: deps.keyring.certificates(), headers: published(60) }))
    r.add('GET', PATHS.userinfo, userinfo)
    r.add('POST', PATHS.userinfo, userinfo)
    r.add('POST', PATHS.token, async (c) => {
      await token(c.req, c.res)
      return 'sent'
    })
    r.add('POST', PATHS.revoke, async (c) => {
      await revoke(c.req, c.res)
      return 'sent'
    })
    r.add('GET', '/healthz', async () => ok({ status: 'ok' }))
  }
}
