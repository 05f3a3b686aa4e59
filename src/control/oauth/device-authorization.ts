import type { IncomingMessage, ServerResponse } from 'node:http'
import { readForm } from '../../http/body.js'
import { PATHS } from '../../identity/endpoints.js'
import { startDeviceAuthorization } from '../../identity/grants/device-code.js'
import { fixedWindow } from '../../identity/attempt-limits.js'
import { SUPPORTED_SCOPES } from '../../identity/authorization-request.js'
import { formatUserCode } from '../../identity/user-codes.js'
import { CLI_CLIENT_ID } from '../../api/clients.js'
import type { ControlDeps } from '../deps.js'
import { addressBucket, requestClientAddress } from '../../http/client-address.js'
import { OAuthError } from '../../identity/oauth-error.js'
import { loginHintOf } from '../../identity/login-hint.js'
import { basicClientId, challengeBasicClient, refuseBodyCredentials } from './client-authentication.js'
import { sendOAuth } from './token-endpoint.js'

/** Device authorizations one address may start per window (RFC 8628 §5.2: limit user-code issuance too). */
export const MAX_DEVICE_CODES_PER_ADDRESS = 30
const WINDOW_MS = 15 * 60_000

/** POST /oauth2/device/code (RFC 8628 §3.1–3.2). */
export function deviceAuthorizationEndpoint(deps: ControlDeps) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    let form: Map<string, string>
    try {
      form = await readForm(req)
    } catch {
      sendOAuth(res, 400, { error: 'invalid_request', error_description: 'Expected a form: client_id=postern-cli[&scope=…][&login_hint=…].' })
      return
    }
    // The client as the token endpoint reads it: in the form, or as HTTP Basic credentials (RFC 8628 §3.1).
    let clientId: string | undefined
    try {
      refuseBodyCredentials(form)
      clientId = basicClientId(req.headers.authorization, form.get('client_id')) ?? form.get('client_id')
    } catch (err) {
      if (!(err instanceof OAuthError)) throw err
      challengeBasicClient(req, res, err.httpStatus)
      sendOAuth(res, err.httpStatus, { error: err.code, error_description: err.description })
      return
    }
    if (clientId !== CLI_CLIENT_ID) {
      sendOAuth(res, 401, { error: 'invalid_client', error_description: `Unknown client '${(clientId ?? '').slice(0, 100)}'.` })
      return
    }
    const now = deps.clock()
    const window = fixedWindow(now, WINDOW_MS)
    const address = requestClientAddress(req, deps.settings.trustedProxies)
    if ((await deps.store.countEvent(`device-code:address:${addressBucket(address)}`, window.start)) > MAX_DEVICE_CODES_PER_ADDRESS) {
      res.setHeader('retry-after', String(Math.ceil(window.remainingMs / 1000)))
      sendOAuth(res, 429, { error: 'slow_down', error_description: 'Too many device sign-ins were started from this address; try again later.' })
      return
    }
    const scopes = (form.get('scope') || 'openid email offline_access').split(' ').filter(Boolean)
    const unknown = scopes.find((s) => !SUPPORTED_SCOPES.has(s))
    if (unknown) {
      sendOAuth(res, 400, { error: 'invalid_scope', error_description: `Scope '${unknown.slice(0, 50)}' is not supported.` })
      return
    }
    // The account the device means (`postern auth login ACCOUNT`): /device names it, and no other
    // account can approve the code. Not an email: no hint, as for the authorization endpoint.
    const loginHint = loginHintOf(form)
    const started = await startDeviceAuthorization(deps.store, { clientId, scope: [...new Set(scopes)].join(' '), requestAddress: address, loginHint, now })
    const verification = deps.settings.issuer + PATHS.device
    const shown = formatUserCode(started.userCode)
    sendOAuth(res, 200, {
      device_code: started.deviceCode,
      user_code: shown,
      verification_uri: verification,
      verification_uri_complete: `${verification}?user_code=${shown}`,
      expires_in: started.expiresInSeconds,
      interval: started.intervalSeconds,
    })
  }
}
