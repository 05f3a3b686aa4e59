import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, errors as joseErrors, jwtVerify, type JSONWebKeySet } from 'jose'
import { TokenError } from '../verify.js'

/**
 * Verification of an external identity provider's ID token (or JWT) for token exchange:
 * pure given the provider's keys and `now`. The same rules as Postern's own tokens (verify.ts):
 * strict compact form; an algorithm the provider advertises and that is asymmetric (never `none`
 * or an HMAC, which would make the public key a shared secret); keys only from the provider's
 * JWKS, selected by kid (jwk, jku, x5u, x5c in the header are ignored); `iss` exactly the
 * configured issuer; `aud` naming the configured client; exp, iat and nbf safe integers, not
 * expired, not from the future, living at most 24 hours; 60 s leeway.
 */
export const ASYMMETRIC_ALGORITHMS: readonly string[] = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519']
export const MAX_EXTERNAL_TOKEN_LENGTH = 32 * 1024
const COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/
const LEEWAY_S = 60
const MAX_LIFETIME_S = 86_400

export interface ProviderKeys {
  jwks: JSONWebKeySet
  /** Algorithms the provider signs with (its discovery document's, or its inline keys'), asymmetric only. */
  algorithms: readonly string[]
}

export interface ExternalTokenExpectations {
  issuer: string
  clientId: string
  nowMs: number
}

/** Reads the `iss` of a token without trusting it: to tell an unknown issuer from a bad signature, and nothing else. */
export function unverifiedIssuer(token: string): unknown {
  try {
    return decodeJwt(token).iss
  } catch {
    return undefined
  }
}

export function checkExternalTokenShape(token: string): void {
  if (token.length > MAX_EXTERNAL_TOKEN_LENGTH || !COMPACT.test(token)) throw new TokenError('malformed', 'The subject token is not a compact JWS (JWT).')
}

export async function verifyExternalToken(token: string, keys: ProviderKeys, o: ExternalTokenExpectations): Promise<Record<string, unknown>> {
  checkExternalTokenShape(token)
  let header
  try {
    header = decodeProtectedHeader(token)
    decodeJwt(token)
  } catch {
    throw new TokenError('malformed', 'The subject token is not a JWT.')
  }
  if (!identityTokenType(header.typ)) {
    throw new TokenError('bad-typ', `The subject token's type (typ ${JSON.stringify(header.typ).slice(0, 100)}) is not an ID token's: only a token without typ or with typ JWT is exchanged.`)
  }
  const algorithms = keys.algorithms.filter((a) => ASYMMETRIC_ALGORITHMS.includes(a))
  if (typeof header.alg !== 'string' || !algorithms.includes(header.alg)) {
    throw new TokenError('unsupported-alg', `The subject token's algorithm ${JSON.stringify(header.alg)} is not one the provider signs with (${algorithms.join(', ')}).`)
  }
  if (unverifiedIssuer(token) !== o.issuer) throw new TokenError('wrong-issuer', `The subject token was not issued by ${o.issuer}.`)
  let payload: Record<string, unknown>
  try {
    payload = (
      await jwtVerify(token, createLocalJWKSet(keys.jwks), {
        algorithms,
        issuer: o.issuer,
        audience: o.clientId,
        currentDate: new Date(o.nowMs),
        clockTolerance: LEEWAY_S,
        requiredClaims: ['exp', 'iat'],
      })
    ).payload as Record<string, unknown>
  } catch (err) {
    throw describe(err, o.clientId)
  }
  const { exp, iat, nbf } = payload
  if (!Number.isSafeInteger(exp) || !Number.isSafeInteger(iat) || (nbf !== undefined && !Number.isSafeInteger(nbf))) {
    throw new TokenError('bad-claims', 'The subject token’s exp, iat and nbf must be integers.')
  }
  if ((iat as number) > Math.floor(o.nowMs / 1000) + LEEWAY_S) throw new TokenError('not-yet-valid', 'The subject token was issued in the future (iat); check the clocks.')
  if ((exp as number) - (iat as number) > MAX_LIFETIME_S) throw new TokenError('lifetime-too-long', 'The subject token lives longer than 24 hours.')
  return payload
}

/**
 * ID tokens carry no typ or typ JWT (OpenID Connect Core §2 sets none; RFC 7519 §5.1). Any
 * other type is a token minted for something else — an access token (at+jwt, RFC 9068), a logout
 * token (logout+jwt), a security event (secevent+jwt) — and never an identity here, whatever its
 * claims. Media types compare case-insensitively, and "application/" may be left out (RFC 7515 §4.1.9).
 */
function identityTokenType(typ: unknown): boolean {
  return typ === undefined || (typeof typ === 'string' && /^(application\/)?jwt$/i.test(typ))
}

function describe(err: unknown, clientId: string): TokenError {
  if (err instanceof TokenError) return err
  if (err instanceof joseErrors.JWKSNoMatchingKey) return new TokenError('unknown-key', 'The subject token was signed by a key that is not in the provider’s JWKS.')
  if (err instanceof joseErrors.JWKSMultipleMatchingKeys) return new TokenError('unknown-key', 'The subject token names no key (kid) and the provider has several.')
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return new TokenError('bad-signature', 'The subject token’s signature does not verify with the provider’s key.')
  if (err instanceof joseErrors.JWTExpired) return new TokenError('expired', 'The subject token has expired; sign in at the identity provider again.')
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return new TokenError('unsupported-alg', 'The subject token’s algorithm is not accepted.')
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.claim === 'aud') return new TokenError('wrong-audience', `The subject token’s audience is not the provider’s client id (${clientId}).`)
    if (err.claim === 'iss') return new TokenError('wrong-issuer', 'The subject token was not issued by this provider.')
    if (err.claim === 'nbf') return new TokenError('not-yet-valid', 'The subject token is not valid yet (nbf).')
    if (err.reason === 'missing') return new TokenError('bad-claims', `The subject token has no ${err.claim} claim.`)
    return new TokenError('bad-claims', `The subject token’s ${err.claim} claim is invalid.`)
  }
  return new TokenError('malformed', `The subject token is invalid: ${(err as Error).message?.slice(0, 200)}`)
}
