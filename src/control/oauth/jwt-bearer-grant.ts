import { tokenEndpoint } from '../../identity/endpoints.js'
import { verifyAssertion } from '../../identity/grants/jwt-bearer.js'
import { required, type Grant } from './token-endpoint.js'
import { tokenResponse } from './token-response.js'

/**
 * grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer. The answer carries `id_token` — aud the
 * assertion's `target_audience` (Google's extension, which its libraries read), else the CLI's —
 * naming the account by email, and beside it `access_token`, `token_type` and `expires_in`,
 * which generic OAuth clients require: an access token for the Postern API.
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
  return tokenResponse(deps, subject, { audience: targetAudience, scope: '', clientId: account.uid, includeEmail: true })
}
