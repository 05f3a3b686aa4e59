import type { Clock } from '../core/clock.js'
import type { Keyring } from './keyring.js'
import type { FederationClaim } from './federation/federation-claim.js'
import { mintJwt, type TokenClaims } from './mint.js'

export interface IdTokenSubject {
  uid: string
  /** '' for a federated subject whose identity provider gave none. */
  email: string
  kind: 'user' | 'serviceAccount' | 'federated'
  /** Federated subjects: the claim that names them (issue 7). */
  federation?: FederationClaim
  /** Federated subjects: the pool's session duration; no token or refresh token outlives the sign-in by more. */
  maxSessionMs?: number
}

export interface IdTokenOptions {
  audience: string | string[]
  azp?: string
  nonce?: string
  authTime?: number
  /** Service-account tokens carry email only when asked (as Google's do); user tokens always. */
  includeEmail?: boolean
  ttlSeconds?: number
  extra?: Record<string, unknown>
}

/** Mints the ID tokens Postern issues (DESIGN §3): RS256, `kid`, the issuer's current key. */
export class TokenIssuer {
  constructor(
    private readonly keyring: Keyring,
    readonly issuer: string,
    readonly ttlSeconds: number,
    private readonly clock: Clock,
  ) {}

  idToken(subject: IdTokenSubject, o: IdTokenOptions): Promise<string> {
    const claims: TokenClaims = { sub: subject.uid, aud: o.audience, ...o.extra }
    if (o.azp) claims.azp = o.azp
    if (subject.federation) claims.federation = subject.federation
    // A federated principal's email is its identity provider's word, carried inside `federation`:
    // as `email` it would read like an address Postern vouches for, the same as a local user's.
    if (subject.email && subject.kind !== 'federated' && (subject.kind !== 'serviceAccount' || o.includeEmail)) {
      claims.email = subject.email
      claims.email_verified = true
    }
    if (o.nonce) claims.nonce = o.nonce
    if (o.authTime) claims.auth_time = Math.floor(o.authTime / 1000)
    return mintJwt(claims, this.keyring.signer(), this.issuer, this.clock(), Math.min(o.ttlSeconds ?? this.ttlSeconds, this.ttlSeconds))
  }

  /** Any JWT signed with the issuer's key (e.g. X-Postern-Jwt-Assertion). */
  jwt(claims: TokenClaims, ttlSeconds: number): Promise<string> {
    return mintJwt(claims, this.keyring.signer(), this.issuer, this.clock(), ttlSeconds)
  }
}
