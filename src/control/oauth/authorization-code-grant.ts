import { redeemAuthorizationCode } from '../../identity/grants/authorization-code.js'
import { OAuthError } from '../../identity/oauth-error.js'
import { CLI_CLIENT_ID } from '../../api/clients.js'
import { required, requestedAudience, type Grant } from './token-endpoint.js'
import { tokenResponse } from './token-response.js'

/** grant_type=authorization_code (RFC 6749 §4.1.3): a public client names itself with client_id. */
export const authorizationCodeGrant: Grant = async (form, deps) => {
  const clientId = required(form, 'client_id')
  if (clientId !== CLI_CLIENT_ID) throw new OAuthError('invalid_client', `Unknown client '${clientId.slice(0, 100)}'.`)
  // Checked before the grant is used up: a mistyped audience must not cost the caller its sign-in
  // (a refresh token redeemed without its successor reaching the client is, presented again, reuse).
  const audience = requestedAudience(form)
  const redeemed = await redeemAuthorizationCode(deps.store, {
    code: required(form, 'code'),
    clientId,
    redirectUri: required(form, 'redirect_uri'),
    codeVerifier: required(form, 'code_verifier'),
    now: deps.clock(),
  })
  return tokenResponse(deps, redeemed.subject, {
    audience,
    refreshToken: redeemed.refreshToken,
    scope: redeemed.scope,
    authTime: redeemed.authTime,
    nonce: redeemed.nonce,
    signIn: redeemed.signIn,
  })
}
