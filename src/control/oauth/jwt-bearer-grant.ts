import { tokenEndpoint } from '../../identity/endpoints.js'
import { verifyAssertion } from '../../identity/grants/jwt-bearer.js'
import { required, type Grant } from './token-endpoint.js'
import { tokenResponse } from './token-response.js'

/**
 * grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer. With a `target_audience` claim the
 * answer is Google's: just `{"id_token": …}` whose aud is that audience and which names the
 * account by email. Without one, the CLI's shape: an ID token for the Postern API as
 * access_token and id_token.
 */
export const jwtBearerGrant: Grant = async (form, deps) => {
  const { account, keyId, targetAudience } = await verifyAssertion(deps.store, required(form, 'assertion'), {
    tokenEndpoint: tokenEndpoint(deps.settings.issuer),
    now: deps.clock(),
  })
  const subject = { uid: account.uid, email: account.email, kind: 'serviceAccount' as const }
  await deps.store.appendAudit({
    time: deps.clock(),
    principal: `serviceAccount:${account.email}`,
    method: 'oauth.jwtBearer',
    resource: `projects/${account.projectId}/serviceAccounts/${account.email}`,
    outcome: 'OK',
    details: { keyId, ...(targetAudience && { audience: targetAudience }) },
  })
  if (targetAudience) return { id_token: await deps.tokens.idToken(subject, { audience: targetAudience, azp: account.uid, includeEmail: true }) }
  return tokenResponse(deps, subject, { scope: '' })
}
