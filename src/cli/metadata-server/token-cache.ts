import { expiryOf, localExpiryOf } from '../session.js'

/** Renew a token this long before it expires, as GCE's metadata server does (callers may cache it up to its expiry). */
export const RENEW_BEFORE_MS = 5 * 60_000
/** Audiences remembered at once: a local process asking for endless audiences must not grow the cache without bound. */
const MAX_ENTRIES = 256

/**
 * Tokens by key (an audience, or the access token), each reused until it is within
 * RENEW_BEFORE_MS of its expiry; concurrent requests for the same missing token share one fetch.
 */
export class TokenCache {
  private readonly tokens = new Map<string, { token: string; expiry: number }>()
  private readonly inflight = new Map<string, Promise<{ token: string; expiry: number }>>()

  constructor(private readonly now: () => number = Date.now) {}

  async get(key: string, fetch: () => Promise<string>): Promise<{ token: string; expiry: number }> {
    const hit = this.tokens.get(key)
    if (hit && hit.expiry - RENEW_BEFORE_MS > this.now()) return hit
    let pending = this.inflight.get(key)
    if (!pending) {
      pending = fetch().then((token) => {
        // A fresh token lives its lifetime from now, whatever the server's clock says; one the CLI
        // had cached lives less, and no longer than its exp: the sooner of the two.
        const entry = { token, expiry: Math.min(expiryOf(token), localExpiryOf(token, this.now())) }
        this.tokens.delete(key)
        if (this.tokens.size >= MAX_ENTRIES) this.tokens.delete(this.tokens.keys().next().value!)
        this.tokens.set(key, entry)
        return entry
      })
      this.inflight.set(key, pending)
      const forget = () => this.inflight.delete(key)
      pending.then(forget, forget)
    }
    return pending
  }
}
