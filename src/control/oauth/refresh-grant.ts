import { CLI_CLIENT_ID } from '../../api/clients.js'
import { redeemRefreshToken } from '../../identity/grants/refresh.js'
import { OAuthError } from '../../identity/oauth-error.js'
import { required, requestedAudience, type Grant } from './token-endpoint.js'
import { tokenResponse } from './token-response.js'

export const refreshGrant: Grant = async (form, deps) => {
  const clientId = form.get('client_id') ?? CLI_CLIENT_ID
  if (clientId !== CLI_CLIENT_ID) throw new OAuthError('invalid_client', `Unknown client '${clientId.slice(0, 100)}'.`)
  const scope = form.get('scope')?.split(' ').filter(Boolean).join(' ') || undefined
  // The signing key first: redeeming uses the refresh token up, and a process that could then sign
  // nothing would have cost the caller its sign-in (presenting the token again revokes it).
  deps.keyring.signer()
  // Checked before the grant is used up: a mistyped audience must not cost the caller its sign-in
  // (a refresh token redeemed without its successor reaching the client is, presented again, reuse).
  const audience = requestedAudience(form)
  const redeemed = await redeemRefreshToken(deps.store, required(form, 'refresh_token'), clientId, deps.clock(), scope)
  return tokenResponse(deps, redeemed.subject, { audience, refreshToken: redeemed.refreshToken, scope: redeemed.scope, authTime: redeemed.authTime, signIn: redeemed.signIn })
}
