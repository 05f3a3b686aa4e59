import { verify as verifySignature, type KeyObject } from 'node:crypto'
import { typRefusal, type BearerKind } from './token-types.js'

/**
 * Verification of Postern's own JWTs, DESIGN §4 step 4 — pure given the keys and `now`.
 * Written here rather than with jose's jwtVerify because the contract is stricter than JWT
 * libraries (strict compact form and canonical base64url before anything is parsed; keys looked
 * up by issuer and kid only; `exp`/`iat`/`nbf` must be safe integers — jose accepts 1e400 as an
 * exp of Infinity; lifetime ≤ 24 h) and because this runs per request on a cache miss, where one
 * crypto.verify is the whole cost.
 */
export type TokenErrorCode =
  | 'malformed'
  | 'unsupported-alg'
  | 'bad-typ'
  | 'wrong-token-kind'
  | 'unknown-key'
  | 'bad-signature'
  | 'wrong-issuer'
  | 'bad-claims'
  | 'expired'
  | 'not-yet-valid'
  | 'lifetime-too-long'
  | 'wrong-audience'
  | 'inactive-subject'

export class TokenError extends Error {
  override readonly name = 'TokenError'
  constructor(
    readonly code: TokenErrorCode,
    message: string,
  ) {
    super(message)
  }
}

export interface VerifiedToken {
  kid: string
  claims: VerifiedClaims
}

export interface VerifiedClaims {
  iss: string
  sub: string
  aud: string[]
  exp: number
  iat: number
  nbf?: number
  email?: string
  [claim: string]: unknown
}

export interface VerifyOptions {
  issuer: string
  /** The issuer's public key with this kid, or undefined. Never a key the token names or carries. */
  keyFor: (kid: string) => KeyObject | undefined
  nowMs: number
  leewaySeconds?: number
  maxLifetimeSeconds?: number
  /** Which kind of bearer token is wanted: ID tokens at the gateway (the default), access tokens at the API. */
  kind?: BearerKind
}

export const MAX_TOKEN_LENGTH = 16 * 1024
const COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/

interface Inspected {
  kid: string
  payload: Record<string, unknown>
  key: KeyObject
  signed: Buffer
  signature: Buffer
}

/** Everything but the signature and the time checks: form, header, issuer, key. */
function inspect(token: string, o: VerifyOptions): Inspected {
  const kind = o.kind === 'accessToken' ? 'access token' : 'ID token'
  if (token.length > MAX_TOKEN_LENGTH || !COMPACT.test(token)) throw new TokenError('malformed', `This is not a Postern ${kind} (a JWT: three base64url parts, unpadded, separated by dots).`)
  const [h, p, s] = token.split('.') as [string, string, string]
  const header = parseJsonPart(h, 'header')
  if (header.alg !== 'RS256') throw new TokenError('unsupported-alg', `Algorithm ${JSON.stringify(header.alg)} is not accepted.`)
  const refusal = typRefusal(header.typ, o.kind ?? 'idToken')
  if (refusal) throw new TokenError(refusal.reason === 'wrong-kind' ? 'wrong-token-kind' : 'bad-typ', refusal.message)
  if (header.crit !== undefined) throw new TokenError('malformed', 'Critical header parameters are not supported.')
  if (typeof header.kid !== 'string') throw new TokenError('unknown-key', `This is not a Postern ${kind}: it names no signing key (kid).`)
  const payload = parseJsonPart(p, 'payload')
  // Keys are looked up by issuer and kid together; jwk/jku/x5u/x5c in the header are ignored.
  if (payload.iss !== o.issuer) throw new TokenError('wrong-issuer', 'The token was not issued by this Postern.')
  const key = o.keyFor(header.kid)
  if (!key) throw new TokenError('unknown-key', 'The token was signed by a key this Postern does not know.')
  return { kid: header.kid, payload, key, signed: Buffer.from(`${h}.${p}`), signature: decodeCanonical(s, 'signature') }
}

export function verifyJwt(token: string, o: VerifyOptions): VerifiedToken {
  const t = inspect(token, o)
  if (!verifySignature('RSA-SHA256', t.signed, t.key, t.signature)) throw new TokenError('bad-signature', 'The token signature is invalid.')
  return { kid: t.kid, claims: checkClaims(t.payload, o) }
}

/**
 * The same verification with the RSA check on libuv's thread pool: a gateway meeting many new
 * tokens then spends the second core on signatures instead of queueing them on the event loop.
 */
export async function verifyJwtAsync(token: string, o: VerifyOptions): Promise<VerifiedToken> {
  const t = inspect(token, o)
  const valid = await new Promise<boolean>((resolve) => verifySignature('RSA-SHA256', t.signed, t.key, t.signature, (err, ok) => resolve(!err && ok)))
  if (!valid) throw new TokenError('bad-signature', 'The token signature is invalid.')
  return { kid: t.kid, claims: checkClaims(t.payload, o) }
}

function checkClaims(payload: Record<string, unknown>, o: VerifyOptions): VerifiedClaims {
  const { exp, iat, nbf, sub, aud } = payload
  if (!Number.isSafeInteger(exp) || !Number.isSafeInteger(iat) || (nbf !== undefined && !Number.isSafeInteger(nbf))) {
    throw new TokenError('bad-claims', 'exp, iat and nbf must be integers.')
  }
  if (typeof sub !== 'string' || !sub) throw new TokenError('bad-claims', 'The token has no subject.')
  const audiences = typeof aud === 'string' ? [aud] : Array.isArray(aud) && aud.every((a) => typeof a === 'string') ? (aud as string[]) : undefined
  if (!audiences || audiences.length === 0) throw new TokenError('bad-claims', 'The token has no audience.')
  if (payload.email !== undefined && typeof payload.email !== 'string') throw new TokenError('bad-claims', 'email must be a string.')
  const now = Math.floor(o.nowMs / 1000)
  const leeway = o.leewaySeconds ?? 60
  const e = exp as number
  const i = iat as number
  if (e <= now - leeway) throw new TokenError('expired', 'The token has expired; get a new one: postern auth print-identity-token')
  if (i > now + leeway || (nbf !== undefined && (nbf as number) > now + leeway)) throw new TokenError('not-yet-valid', 'The token is not valid yet.')
  if (e - i > (o.maxLifetimeSeconds ?? 86_400) || e < i) throw new TokenError('lifetime-too-long', 'The token lives longer than 24 hours.')
  return { ...payload, iss: o.issuer, sub, aud: audiences, exp: e, iat: i } as VerifiedClaims
}

function parseJsonPart(part: string, what: string): Record<string, unknown> {
  let value: unknown
  try {
    value = JSON.parse(decodeCanonical(part, what).toString('utf8'))
  } catch (err) {
    if (err instanceof TokenError) throw err
    throw new TokenError('malformed', `This is not a Postern ID token: its ${what} is not JSON.`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new TokenError('malformed', `This is not a Postern ID token: its ${what} is not a JSON object.`)
  return value as Record<string, unknown>
}

/** base64url that decodes and re-encodes to itself: no padding bits set, no alternative spellings. */
function decodeCanonical(part: string, what: string): Buffer {
  const bytes = Buffer.from(part, 'base64url')
  if (bytes.toString('base64url') !== part) throw new TokenError('malformed', `This is not a Postern ID token: its ${what} is not canonical base64url.`)
  return bytes
}

/** DESIGN §3: the service URL (with or without one trailing slash) or a custom audience. */
export function audienceMatches(tokenAudiences: readonly string[], accepted: ReadonlySet<string>): boolean {
  for (const a of tokenAudiences) {
    if (accepted.has(a) || (a.endsWith('/') && !a.endsWith('//') && accepted.has(a.slice(0, -1)))) return true
  }
  return false
}
