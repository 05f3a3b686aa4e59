import { describe, expect, it } from 'vitest'
import { RENEW_BEFORE_MS, TokenCache } from './token-cache.js'

/** A token the cache can read an expiry from (it never verifies). */
const tokenExpiringAt = (ms: number, n: number) => `h.${Buffer.from(JSON.stringify({ exp: ms / 1000, n })).toString('base64url')}.s`

describe('TokenCache', () => {
  it('reuses a token until it is within the renewal margin of its expiry, then fetches a new one', async () => {
    let now = 1_000_000_000_000
    const cache = new TokenCache(() => now)
    let fetches = 0
    const fetch = async () => tokenExpiringAt(now + 3600_000, ++fetches)
    const first = await cache.get('aud', fetch)
    now += 3600_000 - RENEW_BEFORE_MS - 1000
    expect((await cache.get('aud', fetch)).token).toBe(first.token)
    now += 2000
    expect((await cache.get('aud', fetch)).token).not.toBe(first.token)
    expect(fetches).toBe(2)
  })

  it('shares one fetch among concurrent requests for the same key, and keeps keys apart', async () => {
    const cache = new TokenCache(() => 0)
    let fetches = 0
    const fetch = async () => tokenExpiringAt(3600_000, ++fetches)
    const [a, b, c] = await Promise.all([cache.get('x', fetch), cache.get('x', fetch), cache.get('y', fetch)])
    expect(a.token).toBe(b.token)
    expect(c.token).not.toBe(a.token)
    expect(fetches).toBe(2)
  })

  it('a server clock ahead of this machine\'s (a token issued "in the future") still lives only its lifetime from now', async () => {
    const now = 1_000_000_000_000
    const cache = new TokenCache(() => now)
    const serverNow = now + 30 * 86_400_000 // 30 days ahead
    const token = `h.${Buffer.from(JSON.stringify({ iat: serverNow / 1000, exp: serverNow / 1000 + 3600 })).toString('base64url')}.s`
    expect((await cache.get('x', async () => token)).expiry).toBe(now + 3600_000)
  })

  it('does not keep a failure: the next request fetches again', async () => {
    const cache = new TokenCache(() => 0)
    await expect(cache.get('x', async () => Promise.reject(new Error('refused')))).rejects.toThrow('refused')
    expect((await cache.get('x', async () => tokenExpiringAt(3600_000, 1))).expiry).toBe(3600_000)
  })
})
