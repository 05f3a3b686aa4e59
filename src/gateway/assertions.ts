import type { TokenIssuer } from '../identity/issuer.js'
import type { Caller } from './authenticate.js'
import type { Route } from './routes.js'
import { BoundedCache } from '../core/bounded-cache.js'

const LIFETIME_S = 300
const REUSE_MS = (LIFETIME_S - 60) * 1000

/**
 * X-Postern-Jwt-Assertion (DESIGN §4 step 6): a JWT signed by Postern for the upstream, aud = the
 * service URL, five minutes long, verifiable with the JWKS. An RSA signature costs about a
 * millisecond, so one assertion per caller and service is reused for four minutes.
 */
export class AssertionMinter {
  private readonly cache = new BoundedCache<string, { jwt: string; until: number }>(10_000)
  private removalsSeen = 0

  /** `keysRemoved`: the keyring's removals; an assertion signed by a key no longer published is minted again. */
  constructor(
    private readonly tokens: TokenIssuer,
    private readonly keysRemoved: () => number,
  ) {}

  /** The assertion for this caller and service if one is still fresh. */
  cached(caller: Caller, route: Route, now: number): string | undefined {
    if (this.keysRemoved() !== this.removalsSeen) {
      this.removalsSeen = this.keysRemoved()
      this.cache.clear()
    }
    const hit = this.cache.get(`${caller.key}\u0000${route.service.uid}`)
    return hit && hit.until > now ? hit.jwt : undefined
  }

  async assertion(caller: Caller, route: Route, now: number): Promise<string> {
    const fresh = this.cached(caller, route, now)
    if (fresh) return fresh
    const key = `${caller.key}\u0000${route.service.uid}`
    const jwt = await this.tokens.upstreamAssertion({ sub: caller.uid, aud: route.uri, email: caller.email, principal: caller.member, service: route.resource }, LIFETIME_S)
    this.cache.set(key, { jwt, until: now + REUSE_MS })
    return jwt
  }
}
