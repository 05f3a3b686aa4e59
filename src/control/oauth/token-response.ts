import { CLI_CLIENT_ID } from '../caller.js'
import type { IdTokenSubject } from '../../identity/issuer.js'
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
  const common = { azp: clientId, authTime: o.authTime, nonce: o.nonce, includeEmail: true }
  const access = await deps.tokens.idToken(subject, { ...common, audience: clientId })
  const id = o.audience && o.audience !== clientId ? await deps.tokens.idToken(subject, { ...common, audience: o.audience }) : access
  return {
    access_token: access,
    id_token: id,
    token_type: 'Bearer',
    expires_in: deps.tokens.ttlSeconds,
    scope: o.scope,
    ...(o.refreshToken && { refresh_token: o.refreshToken }),
  }
}
