import { decodeJwt } from 'jose'
import * as z from 'zod'
import { PosternError } from '../../core/errors.js'
import { parseDurationSeconds } from '../../core/duration.js'
import { parseWith } from '../../core/validate.js'
import { isAudience } from '../../identity/audience.js'
import type { Router } from '../../http/router.js'
import type { Permission } from '../../iam/roles.js'
import type { ServiceAccountRecord } from '../../store/records.js'
import type { Caller } from '../caller.js'
import { allowRead, ok, rfc3339, type Handler, type RequestContext } from '../handler.js'
import { account, existing } from './service-accounts.js'

// Google's bodies, as its client libraries send them: Python's google-auth sends `delegates` and
// `scope` as null when unset, and Node's google-auth-library always sends `useEmailAzp`.
const NO_DELEGATES = z.array(z.string()).max(0).nullish()
const GenerateIdToken = z.strictObject({
  audience: z.string().refine(isAudience, 'an audience has 1 to 2,048 characters, none of them whitespace or a control character'),
  includeEmail: z.boolean().nullish(),
  useEmailAzp: z.boolean().nullish(),
  delegates: NO_DELEGATES,
})
// `scope` is what Google's clients send; Postern's access tokens are for its API only, so it selects nothing.
const GenerateAccessToken = z.strictObject({ scope: z.array(z.string().max(512)).max(50).nullish(), lifetime: z.string().max(20).nullish(), delegates: NO_DELEGATES })

/**
 * Minting tokens as a service account by those who hold roles/iam.serviceAccountTokenCreator on
 * it — Google's IAM Credentials API: generateIdToken (an ID token, for services) and
 * generateAccessToken (an access token, for the Postern API).
 */
export function serviceAccountTokenRoutes(r: Router<Handler>): void {
  const base = '/v1/projects/{project}/serviceAccounts'

  r.add('POST', `${base}/{email}:generateIdToken`, async (c) => {
    const body = parseWith(GenerateIdToken, await c.json())
    const { sa, caller, resource } = await impersonated(c, 'iam.serviceAccounts.getOpenIdToken')
    // useEmailAzp: the token's azp is the account's email, as Google's is, rather than the caller's id.
    const azp = body.useEmailAzp ? sa.email : uidOf(caller)
    // As generateAccessToken's, the token ends with the caller's sign-in when the caller's token came from one.
    const token = await c.deps.tokens.idToken(subjectOf(sa), { audience: body.audience, azp, includeEmail: body.includeEmail ?? false, signIn: caller.signIn })
    await audit(c, caller, 'serviceAccounts.generateIdToken', resource, { audience: body.audience })
    return ok({ token })
  })

  r.add('POST', `${base}/{email}:generateAccessToken`, async (c) => {
    const body = parseWith(GenerateAccessToken, await c.json())
    const ttl = c.deps.tokens.ttlSeconds
    // A lifetime past the server's token lifetime is cut to it, not refused: Google's clients ask
    // for an hour by default, and the answer's expireTime says when the token really ends.
    const lifetime = body.lifetime == null ? ttl : Math.min(parseDurationSeconds(body.lifetime, 'lifetime'), ttl)
    const { sa, caller, resource } = await impersonated(c, 'iam.serviceAccounts.getAccessToken')
    // The token ends with the caller's sign-in, when the caller's own token came from one: signing
    // out of the CLI, or a revoked refresh token, also ends what it minted by impersonation.
    const accessToken = await c.deps.tokens.accessToken(subjectOf(sa), { clientId: sa.uid, ttlSeconds: lifetime, signIn: caller.signIn })
    await audit(c, caller, 'serviceAccounts.generateAccessToken', resource, {})
    // The token's own exp (a clock read here could fall a second later), in whole seconds, as
    // Google answers: Python's google-auth reads expireTime with '%Y-%m-%dT%H:%M:%SZ'.
    const expireTime = rfc3339(decodeJwt(accessToken).exp! * 1000).replace('.000Z', 'Z')
    return ok({ accessToken, expireTime })
  })
}

async function impersonated(c: RequestContext, permission: Permission): Promise<{ sa: ServiceAccountRecord; caller: Caller; resource: string }> {
  const a = account(c)
  const caller = allowRead(c, permission, a.resource)
  const sa = await existing(c.deps.store, a.email)
  if (sa.disabled) throw new PosternError('FAILED_PRECONDITION', `Service account '${a.email}' is disabled.`)
  return { sa, caller, resource: a.resource }
}

const subjectOf = (sa: ServiceAccountRecord) => ({ uid: sa.uid, email: sa.email, kind: 'serviceAccount' as const })

const uidOf = (caller: Caller) => (caller.principal.kind !== 'anonymous' && 'uid' in caller.principal ? caller.principal.uid : undefined)

function audit(c: RequestContext, caller: Caller, method: string, resource: string, details: Record<string, unknown>): Promise<unknown> {
  return c.deps.store.appendAudit({ time: c.deps.clock(), principal: caller.member, method, resource, outcome: 'OK', details })
}
