import { newUid } from '../../core/ids.js'
import { normalizeEmail } from '../../iam/members.js'
import type { FederatedSubjectRecord, WorkforcePoolRecord, WorkforceProviderRecord } from '../../store/records.js'
import type { Store } from '../../store/store.js'
import { OAuthError } from '../oauth-error.js'
import { issueRefreshToken } from '../refresh-tokens.js'
import { federatedSubject, sessionEnd, type Subject } from '../subjects.js'
import { TokenError } from '../verify.js'
import { conditionHolds, mapAssertion, type MappedIdentity } from './attribute-mapping.js'
import { verifyExternalToken } from './external-token.js'
import { federatedMember, oversizedClaim } from './federation-claim.js'
import { PROVIDER_UNREACHABLE, ProviderFetchError, type ProviderKeySource } from './provider-keys.js'
import { parseProviderAudience, providerName } from './workforce-names.js'

/**
 * Token exchange for workforce federation (RFC 8693): an external ID token in, a
 * federated subject with a refresh token (capped at the pool's session) out, or an error and
 * nothing issued. The errors are RFC 8693 §2.2.2's: a subject token that is invalid or refused by
 * policy is `invalid_request` ("MUST"; so is a token type other than an ID token or JWT, a subject
 * token the server will not accept whatever it holds), an audience naming no usable pool provider
 * is `invalid_target`. (`unsupported_token_type` is revocation's, RFC 7009 §2.2.1.)
 */
export const TOKEN_TYPE = {
  idToken: 'urn:ietf:params:oauth:token-type:id_token',
  jwt: 'urn:ietf:params:oauth:token-type:jwt',
  accessToken: 'urn:ietf:params:oauth:token-type:access_token',
} as const

export interface ExchangeRequest {
  subjectToken: string
  subjectTokenType: string
  audience: string
  clientId: string
  scope: string
  now: number
  /**
   * What the sign-in hands out: a refresh token (the CLI); access tokens alone (a client that did
   * not ask for offline_access); nothing, the console's sign-in, which starts a session instead.
   */
  issue: 'refreshToken' | 'accessTokens' | 'session'
}

export interface Exchanged {
  subject: Subject
  refreshToken: string | undefined
  /** The refresh-token family recorded for the sign-in, when it hands out tokens: what its access tokens name (`sid`). */
  signIn: string | undefined
  authTime: number
  scope: string
}

/** Provider and pool found by the audience, usable for a sign-in. */
export async function usableProvider(store: Store, audience: string): Promise<{ pool: WorkforcePoolRecord; provider: WorkforceProviderRecord }> {
  const names = parseProviderAudience(audience)
  if (!names) throw new OAuthError('invalid_target', `The audience must name a workforce pool provider: //iam.postern/workforcePools/POOL/providers/PROVIDER, got '${audience.slice(0, 200)}'.`)
  const [pool, provider] = await Promise.all([store.getWorkforcePool(names.poolId), store.getWorkforceProvider(names.poolId, names.providerId)])
  const name = providerName(names.poolId, names.providerId)
  if (!pool || !provider) throw new OAuthError('invalid_target', `${name} does not exist.`)
  if (pool.disabled) throw new OAuthError('invalid_target', `The workforce pool ${names.poolId} is disabled.`)
  if (provider.disabled) throw new OAuthError('invalid_target', `The provider ${name} is disabled.`)
  return { pool, provider }
}

/** Verifies, maps and filters the external token; on success records the subject's sign-in. */
export async function exchangeSubjectToken(store: Store, keys: ProviderKeySource, req: ExchangeRequest): Promise<Exchanged> {
  if (req.subjectTokenType !== TOKEN_TYPE.idToken && req.subjectTokenType !== TOKEN_TYPE.jwt) {
    throw new OAuthError('invalid_request', `subject_token_type must be ${TOKEN_TYPE.idToken} or ${TOKEN_TYPE.jwt}.`)
  }
  const { pool, provider } = await usableProvider(store, req.audience)
  const name = providerName(pool.poolId, provider.providerId)
  const refuse = (reason: string): never => {
    throw new OAuthError('invalid_request', reason)
  }
  // Only a person the provider vouched for and Postern turned away is audited: anyone can send
  // garbage, and an audit row per forged token would be a write per unauthenticated request.
  const refuseVerified = async (reason: string, principal: string): Promise<never> => {
    await store.appendAudit({ time: req.now, principal, method: 'oauth.tokenExchange', resource: name, outcome: 'PERMISSION_DENIED', details: { reason } })
    return refuse(reason)
  }

  let assertion: Record<string, unknown>
  try {
    assertion = await verifyWithRotation(keys, provider, req)
  } catch (err) {
    if (err instanceof ProviderFetchError) {
      // One answer whatever went wrong (the detail is in Postern's log): what a fetch met is not the caller's to learn.
      throw new OAuthError('temporarily_unavailable', `${PROVIDER_UNREACHABLE} for ${name}; nothing was issued. Try again later; if this persists, an administrator can find why in Postern's log.`)
    }
    if (err instanceof TokenError) return refuse(err.message)
    throw err
  }
  const mapped = mapAssertion(provider.attributeMapping, assertion)
  if (!mapped.ok) return refuseVerified(mapped.reason, 'unknown')
  const identity = mapped.identity
  const member = federatedMember(pool.poolId, identity.subject)
  if (!conditionHolds(provider.attributeCondition, assertion, identity)) {
    return refuseVerified(`The attribute condition of ${name} does not admit this identity.`, member)
  }
  const email = verifiedEmail(assertion)
  // Nothing is issued that Postern (or a proxy in front of it) would then refuse as too large.
  const tooLarge = oversizedClaim(federatedSubject(signedIn(pool, provider, identity, email, req.now), pool, provider).federation!)
  if (tooLarge) return refuseVerified(tooLarge, member)
  return recordSignIn(store, { pool, provider, identity, email, req, member })
}

async function verifyWithRotation(keys: ProviderKeySource, provider: WorkforceProviderRecord, req: ExchangeRequest): Promise<Record<string, unknown>> {
  const expect = { issuer: provider.issuerUri, clientId: provider.clientId, nowMs: req.now }
  try {
    return await verifyExternalToken(req.subjectToken, await keys.keys(provider), expect)
  } catch (err) {
    // A kid we have not seen may be a key the provider has just rotated in: look once more.
    if (!(err instanceof TokenError) || err.code !== 'unknown-key' || provider.jwksJson) throw err
    return verifyExternalToken(req.subjectToken, await keys.keys(provider, { refresh: true }), expect)
  }
}

/** The IdP's email claim when it is an email and not marked unverified; only ever shown, never matched as user: (DESIGN §1). */
function verifiedEmail(assertion: Record<string, unknown>): string | null {
  if (typeof assertion.email !== 'string' || assertion.email_verified === false || assertion.email_verified === 'false') return null
  return normalizeEmail(assertion.email) ?? null
}

/** The subject record a sign-in writes (the store keeps the uid of an earlier one). */
function signedIn(pool: WorkforcePoolRecord, provider: WorkforceProviderRecord, identity: MappedIdentity, email: string | null, now: number): FederatedSubjectRecord {
  return {
    uid: newUid(),
    poolId: pool.poolId,
    subject: identity.subject,
    providerId: provider.providerId,
    providerUid: provider.uid,
    displayName: identity.displayName,
    email,
    groups: identity.groups,
    attributes: identity.attributes,
    createTime: now,
    lastSignInTime: now,
  }
}

async function recordSignIn(
  store: Store,
  o: { pool: WorkforcePoolRecord; provider: WorkforceProviderRecord; identity: MappedIdentity; email: string | null; req: ExchangeRequest; member: string },
): Promise<Exchanged> {
  const { req, identity } = o
  const outcome = await store.transaction(async (tx) => {
    // Read again inside the transaction: a pool disabled a moment ago issues nothing.
    const pool = await tx.getWorkforcePool(o.pool.poolId)
    const provider = await tx.getWorkforceProvider(o.pool.poolId, o.provider.providerId)
    if (!pool || pool.uid !== o.pool.uid || pool.disabled || !provider || provider.uid !== o.provider.uid || provider.disabled) return undefined
    const record = await tx.upsertFederatedSubject(signedIn(pool, provider, identity, o.email, req.now))
    const subject = federatedSubject(record, pool, provider)
    // Access tokens without a refresh token still come from a recorded sign-in (a refresh token
    // nobody is given): they name it, and ending the subject's sign-ins ends them at once too.
    const family = req.issue === 'session' ? undefined : await issueRefreshToken(tx, {
      subjectUid: record.uid,
      clientId: req.clientId,
      scope: req.scope,
      authTime: req.now,
      now: req.now,
      notAfter: sessionEnd(subject, req.now),
    })
    await tx.appendAudit({
      time: req.now,
      principal: o.member,
      method: 'oauth.tokenExchange',
      resource: providerName(pool.poolId, provider.providerId),
      outcome: 'OK',
      details: { uid: record.uid, groups: identity.groups, attributes: identity.attributes, ...(identity.skipped.length && { unmapped: identity.skipped }) },
    })
    return { subject, refreshToken: req.issue === 'refreshToken' ? family?.token : undefined, signIn: family?.familyId }
  })
  if (!outcome) throw new OAuthError('invalid_target', `The provider ${providerName(o.pool.poolId, o.provider.providerId)} was disabled or removed during the sign-in.`)
  return { ...outcome, authTime: req.now, scope: req.scope }
}
