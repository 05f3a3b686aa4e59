import { redeemDeviceCode } from '../../identity/grants/device-code.js'
import { OAuthError } from '../../identity/oauth-error.js'
import { CLI_CLIENT_ID } from '../../api/clients.js'
import { required, requestedAudience, type Grant } from './token-endpoint.js'
import { tokenResponse } from './token-response.js'

/** grant_type=urn:ietf:params:oauth:grant-type:device_code (RFC 8628 §3.4). */
export const deviceCodeGrant: Grant = async (form, deps) => {
  const clientId = required(form, 'client_id')
  if (clientId !== CLI_CLIENT_ID) throw new OAuthError('invalid_client', `Unknown client '${clientId.slice(0, 100)}'.`)
  // Checked before the grant is used up: a mistyped audience must not cost the caller its sign-in
  // (a refresh token redeemed without its successor reaching the client is, presented again, reuse).
  const audience = requestedAudience(form)
  const redeemed = await redeemDeviceCode(deps.store, { deviceCode: required(form, 'device_code'), clientId, now: deps.clock() })
  return tokenResponse(deps, redeemed.subject, { audience, refreshToken: redeemed.refreshToken, scope: redeemed.scope, authTime: redeemed.authTime, signIn: redeemed.signIn })
}
