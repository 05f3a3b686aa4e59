import { createPublicKey } from 'node:crypto'
import { decodeJwt, decodeProtectedHeader, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose'
import type { ServiceAccountKeyRecord, ServiceAccountRecord } from '../../store/records.js'
import type { Store } from '../../store/store.js'
import { OAuthError } from '../oauth-error.js'
import { isAudience } from '../audience.js'

/**
 * The JWT-bearer grant (RFC 7523 §2.1) for service-account keys, as Google's token endpoint does
 * it, so Google's client libraries work unchanged: the assertion is signed with the key, iss (and
 * sub, when present) is the account's email, it lives at most an hour (§3: exp is required).
 * Its aud is this token endpoint or one of Google's token URIs — the libraries post to the key
 * file's token_uri but some sign Google's URI as aud; the assertion was sent here either way, so
 * this is no weaker. Segments may carry `=` padding (google-auth for Python 1.x pads them; only
 * assertions, never Postern's own tokens, are read that leniently). An assertion with a jti works
 * once; one without (Google's libraries send none, and two assertions signed in one second are
 * identical) is bounded by its exp alone, as at Google.
 */
export const GOOGLE_TOKEN_URIS = ['https://oauth2.googleapis.com/token', 'https://www.googleapis.com/oauth2/v4/token'] as const
export const MAX_ASSERTION_LIFETIME_S = 3600
const LEEWAY_S = 60
const MAX_KEYS_TRIED = 10

export interface VerifiedAssertion {
  account: ServiceAccountRecord
  keyId: string
  targetAudience: string | undefined
}

const invalid = (description: string) => new OAuthError('invalid_grant', description)

/** Compact JWS whose segments may end in base64 padding (jose decodes and verifies them as sent). */
const PADDED_COMPACT = /^[A-Za-z0-9_-]+={0,2}\.[A-Za-z0-9_-]+={0,2}\.[A-Za-z0-9_-]+={0,2}$/

export async function verifyAssertion(store: Store, assertion: string, o: { tokenEndpoint: string; now: number }): Promise<VerifiedAssertion> {
  if (assertion.length > 16 * 1024 || !PADDED_COMPACT.test(assertion)) throw invalid('The assertion is not a compact JWS.')
  let header
  let unverified: JWTPayload
  try {
    header = decodeProtectedHeader(assertion)
    unverified = decodeJwt(assertion)
  } catch {
    throw invalid('The assertion is not a JWT.')
  }
  if (header.alg !== 'RS256') throw invalid(`Assertions must be signed with RS256, not ${JSON.stringify(header.alg)}.`)
  if (header.kid !== undefined && typeof header.kid !== 'string') throw invalid('The assertion header\'s kid must be a string (the key file\'s private_key_id).')
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
          audience: [o.tokenEndpoint, ...GOOGLE_TOKEN_URIS],
          currentDate: new Date(o.now),
          clockTolerance: LEEWAY_S,
          requiredClaims: ['exp', 'iat'],
        })
      ).payload
      keyId = key.keyId
      break
    } catch (err) {
      if (err instanceof joseErrors.JWSSignatureVerificationFailed) continue
      throw invalid(describe(err, o.tokenEndpoint))
    }
  }
  if (!payload) throw invalid('The assertion signature does not verify with any key of the service account.')
  const { exp, iat } = payload as { exp: number; iat: number }
  if (!Number.isSafeInteger(exp) || !Number.isSafeInteger(iat)) throw invalid('exp and iat must be integers.')
  if (iat > Math.floor(o.now / 1000) + LEEWAY_S) throw invalid('The assertion was issued in the future (iat); check the clock.')
  if (exp < iat) throw invalid('The assertion expires before it was issued (exp < iat).')
  if (exp - iat > MAX_ASSERTION_LIFETIME_S) throw invalid('The assertion lives longer than one hour (exp - iat > 3600).')
  if (payload.sub !== undefined && String(payload.sub).toLowerCase() !== email) throw invalid('sub must be the service account itself (no delegation).')
  const target = payload.target_audience
  if (target !== undefined && (typeof target !== 'string' || !isAudience(target))) throw invalid('target_audience must be a string of 1 to 2,048 characters, none of them whitespace or a control character.')

  const account = await store.getServiceAccount(email)
  if (!account) throw invalid(`The service account ${email} no longer exists.`)
  if (account.disabled) throw invalid(`The service account ${email} is disabled.`)

  // Single use (§3 item 7) for an assertion that names itself by jti, remembered until it could
  // no longer be accepted anyway.
  if (payload.jti !== undefined) {
    if (typeof payload.jti !== 'string' || !payload.jti || payload.jti.length > 256) throw invalid('jti must be a non-empty string.')
    if (!(await store.rememberOnce(`jwt-bearer:${email}:jti:${payload.jti}`, (exp + LEEWAY_S) * 1000))) throw invalid('This assertion (its jti) was already used.')
  }
  return { account, keyId, targetAudience: target as string | undefined }
}

function describe(err: unknown, tokenEndpoint: string): string {
  if (err instanceof joseErrors.JWTExpired) return 'The assertion has expired.'
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.claim === 'aud') return wrongAudience(err.payload.aud, tokenEndpoint)
    if (err.claim === 'iss') return 'The assertion issuer (iss) must be the service account email.'
    if (err.reason === 'missing') return `The assertion has no ${err.claim} claim.`
    return `The assertion's ${err.claim} claim is invalid (${err.message}).`
  }
  return `The assertion is invalid: ${(err as Error).message}`
}

/**
 * The usual cause is a key file made before --issuer changed: its token_uri names the old issuer's
 * token endpoint, and the client signs that as aud (google-auth 1.x does). That is another issuer,
 * so it is not accepted; the message says what was sent, what is expected and how to mend it.
 */
function wrongAudience(aud: unknown, tokenEndpoint: string): string {
  // Quoted with ' as error_description allows no " (RFC 6749 §5.2).
  const sent = aud === undefined ? 'missing' : (Array.isArray(aud) ? aud : [aud]).map((a) => `'${String(a).slice(0, 300)}'`).join(', ')
  return (
    `The assertion audience (aud) is ${sent}, but this Postern's token endpoint is ${tokenEndpoint} (Google's token URIs are accepted too). ` +
    `A key file made while Postern had another issuer (--issuer) keeps that issuer's token_uri: create a new key (postern iam service-accounts keys create) or set the key file's token_uri to ${tokenEndpoint}.`
  )
}
