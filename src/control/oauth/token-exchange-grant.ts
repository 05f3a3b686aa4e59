import { exchangeSubjectToken, TOKEN_TYPE } from '../../identity/federation/exchange.js'
import type { ProviderKeySource } from '../../identity/federation/provider-keys.js'
import { OAuthError } from '../../identity/oauth-error.js'
import { CLI_CLIENT_ID } from '../../api/clients.js'
import { required, type Grant } from './token-endpoint.js'
import { tokenResponse } from './token-response.js'

const SCOPE = 'openid email offline_access'
const SCOPE_WITHOUT_REFRESH = 'openid email'

/**
 * grant_type=urn:ietf:params:oauth:grant-type:token-exchange (RFC 8693 §2.1) for workforce
 * federation: `subject_token` an external ID token (or JWT), `audience` the pool
 * provider. The answer is the CLI's token response (an access token for the API, an ID token of
 * the federated principal, a refresh token ending with the pool's session when the client asks
 * for one) plus
 * `issued_token_type` (§2.2.1), which names what `access_token` holds: an access token. The ID
 * token's `aud` is the CLI's, as for any sign-in; other audiences come from the refresh token,
 * as for local users.
 */
export function tokenExchangeGrant(keys: ProviderKeySource): Grant {
  return async (form, deps) => {
    const clientId = form.get('client_id') ?? CLI_CLIENT_ID
    if (clientId !== CLI_CLIENT_ID) throw new OAuthError('invalid_client', `Unknown client '${clientId.slice(0, 100)}'.`)
    const requested = form.get('requested_token_type')
    // As Google's STS: the issued token is an access token; the ID token comes beside it as id_token.
    if (requested !== undefined && requested !== TOKEN_TYPE.accessToken) {
      throw new OAuthError('invalid_request', `requested_token_type may only be ${TOKEN_TYPE.accessToken} (the default); the ID token is returned beside it as id_token.`)
    }
    if (form.has('actor_token')) throw new OAuthError('invalid_request', 'Delegation (actor_token) is not supported.')
    const subjectTokenType = required(form, 'subject_token_type')
    // A compact JWS holds no whitespace: what surrounds one is the file it was read from (Google's
    // libraries send an external_account credential's token file as it is, and `echo "$TOKEN" >
    // file` ends it with a newline).
    const subjectToken = required(form, 'subject_token').trim()
    const audience = form.get('audience')
    if (!audience) throw new OAuthError('invalid_target', 'audience is required: //iam.postern/workforcePools/POOL/providers/PROVIDER.')
    // No scope is the default (RFC 6749 §3.3): the CLI's sign-in, which keeps a refresh token. A
    // client that names its scopes gets one only for offline_access: Google's external_account
    // clients name cloud-platform, exchange again each hour and drop what they were not asking
    // for — each such refresh token would be a live sign-in, for the pool's whole session, in
    // every answer.
    const asked = form.get('scope')
    const refresh = asked === undefined || asked.split(' ').includes('offline_access')
    const exchanged = await exchangeSubjectToken(deps.store, keys, { subjectToken, subjectTokenType, audience, clientId, scope: refresh ? SCOPE : SCOPE_WITHOUT_REFRESH, now: deps.clock(), issue: refresh ? 'refreshToken' : 'accessTokens' })
    const response = await tokenResponse(deps, exchanged.subject, { refreshToken: exchanged.refreshToken, scope: exchanged.scope, authTime: exchanged.authTime, clientId, signIn: exchanged.signIn })
    return { ...response, issued_token_type: TOKEN_TYPE.accessToken }
  }
}
