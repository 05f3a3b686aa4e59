import { hash } from 'node:crypto'
import type { Directory } from '../directory/directory.js'
import { callerFromClaims, type Caller as IdentityCaller } from '../identity/caller.js'
import { federatedCallerOf, type FederatedCaller } from '../identity/federation/federation-claim.js'
import type { Keyring } from '../identity/keyring.js'
import { MAX_TOKEN_LENGTH, TokenError, audienceMatches, verifyJwtAsync, type VerifiedClaims } from '../identity/verify.js'
import type { Route } from './routes.js'
import type { SignIns } from './sign-ins.js'
import { BoundedCache } from '../core/bounded-cache.js'

export interface Caller extends IdentityCaller {
  /** The verified token's claims; absent for a browser admitted by its session cookie. */
  claims?: VerifiedClaims
}

export type Authentication = { ok: true; caller: Caller } | { ok: false; description: string }

const SIGN_IN_ENDED = { ok: false, description: 'The sign-in this token came from has ended; sign in again (postern auth login) and get a new token.' } as const

const LEEWAY_S = 60

/**
 * DESIGN §4 step 4. A verified token is cached until it expires (bounded), so a signature is
 * checked once per token, not once per request; the subject is looked up in the directory on
 * every request, so disabling or deleting an account stops its tokens as soon as the change
 * feed delivers it, and so is the sign-in a token names (`sid`), so ending it does too.
 */
export class GatewayAuthenticator {
  /**
   * Verified claims under the SHA-256 of their token, not the token itself: held whole, a token
   * and its claims took about 880 bytes of heap, the digest and claims about 300 (`npm run bench
   * -- --only in-process`), and a full cache of 20,000 kept the gateway about 11 MB larger. The
   * digest costs no more than it saves: keyed by the token, the Map hashes a fresh header's token
   * string whole and compares it whole on a hit (a lookup of a 937-character token measured 1.5 µs
   * that way, 1.1 µs by its digest).
   */
  private readonly verified: BoundedCache<string, VerifiedClaims>
  /** Federated callers parsed once per verified token. */
  private readonly federated = new WeakMap<VerifiedClaims, FederatedCaller | null>()
  private readonly inflight = new Map<string, Promise<VerifiedClaims | TokenError>>()
  private hits = 0
  private misses = 0
  /** The keyring's removals when `verified` was last emptied: a token whose key is gone is checked again, and refused. */
  private removalsSeen = 0

  constructor(
    private readonly keyring: Keyring,
    private readonly directory: Directory,
    private readonly signIns: SignIns,
    private readonly issuer: string,
    // About 0.3 KB a token: 20,000 tokens stay near 6 MB, and an evicted token costs one signature check.
    cacheSize = 20_000,
  ) {
    this.verified = new BoundedCache(cacheSize)
  }

  hitRatio(): number {
    return this.hits + this.misses === 0 ? 0 : this.hits / (this.hits + this.misses)
  }

  /**
   * Synchronous for a token seen before (the hot path); a new token's signature is checked off
   * the event loop, and concurrent requests carrying the same new token share one check.
   */
  authenticate(token: string, route: Route, nowMs: number): Authentication | Promise<Authentication> {
    // Longer than any token Postern issues: refused by its length alone (verify.ts), never
    // hashed. A 256 KB header's digest costs about 170 µs, which anyone could ask for again and again.
    if (token.length > MAX_TOKEN_LENGTH) return this.verify(token, nowMs).then((result) => this.outcome(result, route))
    if (this.keyring.removals !== this.removalsSeen) {
      this.removalsSeen = this.keyring.removals
      this.verified.clear()
    }
    const digest = hash('sha256', token, 'base64url')
    const claims = this.verified.get(digest)
    if (claims && (claims.exp + LEEWAY_S) * 1000 > nowMs) {
      this.hits++
      return this.admit(claims, route)
    }
    if (claims) this.verified.delete(digest)
    this.misses++
    let pending = this.inflight.get(digest)
    if (!pending) {
      const removals = this.keyring.removals
      pending = this.verify(token, nowMs).then((result) => {
        // Not kept when a key was taken away meanwhile: it may be the one this token was checked with.
        if (!(result instanceof TokenError) && this.keyring.removals === removals) this.verified.set(digest, result)
        return result
      })
      this.inflight.set(digest, pending)
      const forget = () => this.inflight.delete(digest)
      pending.then(forget, forget)
    }
    return pending.then((result) => this.outcome(result, route))
  }

  private verify(token: string, nowMs: number): Promise<VerifiedClaims | TokenError> {
    return verifyJwtAsync(token, { issuer: this.issuer, keyFor: (kid) => this.keyring.publicKey(kid), nowMs, leewaySeconds: LEEWAY_S }).then(
      ({ claims }) => claims,
      (err: unknown) => {
        if (err instanceof TokenError) return err
        throw err
      },
    )
  }

  private outcome(result: VerifiedClaims | TokenError, route: Route): Authentication | Promise<Authentication> {
    return result instanceof TokenError ? { ok: false, description: result.message } : this.admit(result, route)
  }

  /**
   * Audience, federation, account and sign-in checks on verified claims: every request, and again
   * for an open tunnel whenever the directory changes.
   */
  admit(claims: VerifiedClaims, route: Route): Authentication | Promise<Authentication> {
    if (!audienceMatches(claims.aud, route.audiences)) {
      return {
        ok: false,
        description: route.service.strictAudience
          ? `This service accepts only tokens whose audience is ${route.uri}${route.service.customAudiences.length ? ' or a custom audience' : ''}; get one with: postern auth print-identity-token --audiences ${route.uri}`
          : `The token's audience is not this service (${route.uri}); get one for it with: postern auth print-identity-token --audiences ${route.uri}`,
      }
    }
    let federated = this.federated.get(claims)
    if (federated === undefined) this.federated.set(claims, (federated = federatedCallerOf(claims) ?? null))
    const checked = callerFromClaims(claims, this.directory, 'The account this token was issued to', federated)
    if (!checked.ok) return checked
    const admitted: Authentication = { ok: true, caller: { ...checked.caller, claims } }
    // Tokens from no sign-in (a service-account key's), and those minted before ID tokens named
    // theirs, end at their exp alone.
    const signIn = claims.sid
    if (signIn === undefined) return admitted
    if (typeof signIn !== 'string') return SIGN_IN_ENDED
    const live = this.signIns.live(signIn)
    if (typeof live === 'boolean') return live ? admitted : SIGN_IN_ENDED
    // A sign-in that cannot be read now (the database out of reach) is taken as going on, as every
    // decision is while the view is within --max-staleness: an ending the feed has not brought is
    // as unseen for a sign-in read before. Past that bound the gateway answers 503 before this.
    return live.then((l) => (l ? admitted : SIGN_IN_ENDED), () => admitted)
  }
}
