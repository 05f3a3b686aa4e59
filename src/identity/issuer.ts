import { randomUUID } from 'node:crypto'
import type { Clock } from '../core/clock.js'
import type { Keyring } from './keyring.js'
import type { FederationClaim } from './federation/federation-claim.js'
import { mintJwt, type TokenClaims } from './mint.js'
import { assertionIssuer, TOKEN_TYP } from './token-types.js'

export interface IdTokenSubject {
  uid: string
  /** '' for a federated subject whose identity provider gave none. */
  email: string
  kind: 'user' | 'serviceAccount' | 'federated'
  /** Federated subjects: the claim that names them. */
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
  /** The sign-in (refresh-token family) the token comes from, as `sid`: the gateway refuses the token once it has ended. */
  signIn?: string
}

export interface AccessTokenOptions {
  /** The OAuth client the token was issued to: postern-cli, or a service account's uid for its key. */
  clientId: string
  scope?: string
  authTime?: number
  ttlSeconds?: number
  /**
   * The sign-in (refresh-token family) the token comes from, as `sid`: the API refuses the token
   * once that sign-in has ended. None for a service-account key's token, which ends at its exp.
   */
  signIn?: string
}

/** Mints the tokens Postern issues (DESIGN §3): RS256, `kid`, the issuer's current key, a `typ` per kind. */
export class TokenIssuer {
  constructor(
    private readonly keyring: Keyring,
    readonly issuer: string,
    readonly ttlSeconds: number,
    private readonly clock: Clock,
  ) {}

  /** An ID token, for services (through the gateway); refused by the control API. */
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
    if (o.signIn) claims.sid = o.signIn
    return this.mint(claims, o.ttlSeconds, TOKEN_TYP.idToken)
  }

  /**
   * An access token for the control API (RFC 9068 §2.2): aud the issuer, client_id and jti; a
   * federated subject keeps its `federation` claim, which is what names it to the API. The
   * gateway refuses it, so a service never receives a token that works on the API. `sid` names
   * the sign-in it comes from (OIDC's name for it), checked by the API on every call.
   */
  accessToken(subject: IdTokenSubject, o: AccessTokenOptions): Promise<string> {
    const claims: TokenClaims = { sub: subject.uid, aud: this.issuer, client_id: o.clientId, jti: randomUUID() }
    if (o.scope) claims.scope = o.scope
    if (o.authTime) claims.auth_time = Math.floor(o.authTime / 1000)
    if (subject.federation) claims.federation = subject.federation
    if (o.signIn) claims.sid = o.signIn
    return this.mint(claims, o.ttlSeconds, TOKEN_TYP.accessToken)
  }

  /** X-Postern-Jwt-Assertion: for the upstream to read (its own `iss`: assertionIssuer), never accepted as a bearer token. */
  upstreamAssertion(claims: TokenClaims, ttlSeconds: number): Promise<string> {
    return mintJwt(claims, this.keyring.signer(), assertionIssuer(this.issuer), this.clock(), ttlSeconds, TOKEN_TYP.upstreamAssertion)
  }

  private mint(claims: TokenClaims, ttlSeconds: number | undefined, typ: string): Promise<string> {
    return mintJwt(claims, this.keyring.signer(), this.issuer, this.clock(), Math.min(ttlSeconds ?? this.ttlSeconds, this.ttlSeconds), typ)
  }
}
