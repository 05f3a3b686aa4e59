import { createPublicKey } from 'node:crypto'
import { decodeJwt, decodeProtectedHeader, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose'
import { sha256 } from '../../core/ids.js'
import type { ServiceAccountKeyRecord, ServiceAccountRecord } from '../../store/records.js'
import type { Store } from '../../store/store.js'
import { OAuthError } from '../oauth-error.js'

/**
 * The JWT-bearer grant (RFC 7523 §2.1) for service-account keys, as Google's token endpoint does
 * it, so client libraries that read the key file's token_uri work unchanged: the assertion is
 * signed with the key, iss (and sub, when present) is the account's email, aud is the token
 * endpoint, it lives at most an hour (§3: exp is required), and it works once.
 */
export const MAX_ASSERTION_LIFETIME_S = 3600
const LEEWAY_S = 60
const MAX_KEYS_TRIED = 10

export interface VerifiedAssertion {
  account: ServiceAccountRecord
  keyId: string
  targetAudience: string | undefined
}

const invalid = (description: string) => new OAuthError('invalid_grant', description)

export async function verifyAssertion(store: Store, assertion: string, o: { tokenEndpoint: string; now: number }): Promise<VerifiedAssertion> {
  if (assertion.length > 16 * 1024 || !/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(assertion)) throw invalid('The assertion is not a compact JWS.')
  let header
  let unverified: JWTPayload
  try {
    header = decodeProtectedHeader(assertion)
    unverified = decodeJwt(assertion)
  } catch {
    throw invalid('The assertion is not a JWT.')
  }
  if (header.alg !== 'RS256') throw invalid(`Assertions must be signed with RS256, not ${JSON.stringify(header.alg)}.`)
  const email = typeof unverified.iss === 'string' ? unverified.iss.toLowerCase() : undefined
  if (!email) throw invalid('The assertion has no iss (the service account email).')

  // Google's libraries name the key by kid (= private_key_id); some (gtoken) send no kid, and then
  // every key of the account is tried, as Google does.
  const keys = typeof header.kid === 'string' ? [await store.getServiceAccountKey(header.kid)] : (await store.listServiceAccountKeys(email)).slice(0, MAX_KEYS_TRIED)
  const candidates = keys.filter((k): k is ServiceAccountKeyRecord => k !== undefined && k.serviceAccountEmail === email)
  if (candidates.length === 0) throw invalid(`No key ${typeof header.kid === 'string' ? `'${header.kid.slice(0, 64)}' ` : ''}of ${email.slice(0, 254)} exists (it may have been deleted).`)

  let payload: JWTPayload | undefined
  let keyId = ''
  for (const key of candidates) {
    try {
      payload = (
        await jwtVerify(assertion, createPublicKey(key.publicKeyPem), {
          algorithms: ['RS256'],
          issuer: [email, unverified.iss as string],
          audience: o.tokenEndpoint,
          currentDate: new Date(o.now),
          clockTolerance: LEEWAY_S,
          requiredClaims: ['exp', 'iat'],
        })
      ).payload
      keyId = key.keyId
      break
    } catch (err) {
      if (err instanceof joseErrors.JWSSignatureVerificationFailed) continue
      throw invalid(describe(err))
    }
  }
  if (!payload) throw invalid('The assertion signature does not verify with any key of the service account.')
  const { exp, iat } = payload as { exp: number; iat: number }
  if (!Number.isSafeInteger(exp) || !Number.isSafeInteger(iat)) throw invalid('exp and iat must be integers.')
  if (iat > Math.floor(o.now / 1000) + LEEWAY_S) throw invalid('The assertion was issued in the future (iat); check the clock.')
  if (exp - iat > MAX_ASSERTION_LIFETIME_S) throw invalid('The assertion lives longer than one hour (exp - iat > 3600).')
  if (payload.sub !== undefined && String(payload.sub).toLowerCase() !== email) throw invalid('sub must be the service account itself (no delegation).')
  const target = payload.target_audience
  // eslint-disable-next-line no-control-regex -- refusing control characters is the point
  if (target !== undefined && (typeof target !== 'string' || !target || target.length > 2048 || /[\s\x00-\x1f]/.test(target))) throw invalid('target_audience must be a non-empty string.')

  const account = await store.getServiceAccount(email)
  if (!account) throw invalid(`The service account ${email} no longer exists.`)
  if (account.disabled) throw invalid(`The service account ${email} is disabled.`)

  // Single use (§3 item 7): by jti, or — for libraries that send none, such as Google's Python
  // one — by the assertion itself; remembered until it could no longer be accepted anyway.
  const once = typeof payload.jti === 'string' ? `jti:${payload.jti}` : `assertion:${sha256(assertion)}`
  if (!(await store.rememberOnce(`jwt-bearer:${email}:${once}`, (exp + LEEWAY_S) * 1000))) throw invalid('This assertion (its jti) was already used.')
  return { account, keyId, targetAudience: target as string | undefined }
}

function describe(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return 'The assertion has expired.'
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.claim === 'aud') return 'The assertion audience (aud) must be the token endpoint.'
    if (err.claim === 'iss') return 'The assertion issuer (iss) must be the service account email.'
    if (err.reason === 'missing') return `The assertion has no ${err.claim} claim.`
    return `The assertion's ${err.claim} claim is invalid (${err.message}).`
  }
  return `The assertion is invalid: ${(err as Error).message}`
}
