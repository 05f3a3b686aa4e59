import { CLI_CLIENT_ID } from '../../api/clients.js'
import type { IdTokenSubject } from '../../identity/issuer.js'
import { OAuthError } from '../../identity/oauth-error.js'
import { sessionEnd } from '../../identity/subjects.js'
import type { ControlDeps } from '../deps.js'

export interface TokenResponseOptions {
  /** The ID token's audience; absent means the CLI's (DESIGN §3). */
  audience?: string
  refreshToken?: string
  scope: string
  authTime?: number
  nonce?: string
  /** The client the tokens are issued to (`azp`, `client_id`): postern-cli, or a service account's uid for its key. */
  clientId?: string
  /** Service accounts carry email in their ID tokens only when asked (as Google's do); people always. */
  includeEmail?: boolean
  /** The sign-in (refresh-token family) the tokens come from: both die with it, at the API and at the gateway. */
  signIn?: string
}

/**
 * Every grant's answer: `access_token` is an access token for the Postern API (RFC 9068, aud the
 * issuer), `id_token` an ID token for services (aud `audience`, else postern-cli). The two are
 * never the same token: a service sees only ID tokens, and the API takes only access tokens.
 */
export async function tokenResponse(deps: ControlDeps, subject: IdTokenSubject, o: TokenResponseOptions): Promise<Record<string, unknown>> {
  const clientId = o.clientId ?? CLI_CLIENT_ID
  // A federated sign-in's tokens end with its session.
  const end = o.authTime === undefined ? undefined : sessionEnd(subject, o.authTime)
  const ttlSeconds = end === undefined ? deps.tokens.ttlSeconds : Math.min(deps.tokens.ttlSeconds, Math.floor((end - deps.clock()) / 1000))
  if (ttlSeconds <= 0) throw new OAuthError('invalid_grant', 'The session has ended; sign in again.')
  const access = await deps.tokens.accessToken(subject, { clientId, scope: o.scope, authTime: o.authTime, ttlSeconds, signIn: o.signIn })
  const id = await deps.tokens.idToken(subject, {
    audience: o.audience ?? CLI_CLIENT_ID,
    azp: clientId,
    authTime: o.authTime,
    nonce: o.nonce,
    includeEmail: o.includeEmail ?? true,
    ttlSeconds,
    signIn: o.signIn,
  })
  return {
    access_token: access,
    token_type: 'Bearer',
    expires_in: ttlSeconds,
    id_token: id,
    ...(o.scope && { scope: o.scope }),
    ...(o.refreshToken && { refresh_token: o.refreshToken }),
    // When the sign-in (and so the refresh token) ends, as some providers say it.
    ...(o.refreshToken && end !== undefined && { refresh_token_expires_in: Math.floor((end - deps.clock()) / 1000) }),
  }
}
