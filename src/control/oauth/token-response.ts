import { CLI_CLIENT_ID } from '../caller.js'
import type { IdTokenSubject } from '../../identity/issuer.js'
import { OAuthError } from '../../identity/oauth-error.js'
import { sessionEnd } from '../../identity/subjects.js'
import type { ControlDeps } from '../deps.js'

/**
 * The token response for people and the CLI: `access_token` is an ID token for the Postern API
 * (aud postern-cli), `id_token` is for `audience` when one was asked for (DESIGN §3), else the same.
 */
export async function tokenResponse(
  deps: ControlDeps,
  subject: IdTokenSubject,
  o: { audience?: string; refreshToken?: string; scope: string; authTime?: number; nonce?: string; clientId?: string },
): Promise<Record<string, unknown>> {
  const clientId = o.clientId ?? CLI_CLIENT_ID
  // A federated sign-in's tokens end with its session (issue 7).
  const end = o.authTime === undefined ? undefined : sessionEnd(subject, o.authTime)
  const ttlSeconds = end === undefined ? deps.tokens.ttlSeconds : Math.min(deps.tokens.ttlSeconds, Math.floor((end - deps.clock()) / 1000))
  if (ttlSeconds <= 0) throw new OAuthError('invalid_grant', 'The session has ended; sign in again.')
  const common = { azp: clientId, authTime: o.authTime, nonce: o.nonce, includeEmail: true, ttlSeconds }
  const access = await deps.tokens.idToken(subject, { ...common, audience: clientId })
  const id = o.audience && o.audience !== clientId ? await deps.tokens.idToken(subject, { ...common, audience: o.audience }) : access
  return {
    access_token: access,
    id_token: id,
    token_type: 'Bearer',
    expires_in: ttlSeconds,
    scope: o.scope,
    ...(o.refreshToken && { refresh_token: o.refreshToken }),
    // When the sign-in (and so the refresh token) ends, as some providers say it (issue 7).
    ...(o.refreshToken && end !== undefined && { refresh_token_expires_in: Math.floor((end - deps.clock()) / 1000) }),
  }
}
