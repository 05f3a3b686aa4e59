import { randomBytes, scryptSync } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PosternError } from '../core/errors.js'
import { openStore } from '../store/open-store.js'
import type { Store } from '../store/store.js'
import { attemptSucceeded, beginAttempt, fixedWindow, limitReached, recentFailures, retryAfterMs, slidingFailures } from './attempt-limits.js'
import { hashPassword } from './passwords.js'
import { SIGN_IN_LIMITS, WRONG_CREDENTIALS, backoffStep, signInWithPassword } from './sign-in.js'

const SIGN_IN_WINDOW_MS = SIGN_IN_LIMITS.windowMs

/**
 * A hash verifyPassword takes (the parameters travel with it) at a 32nd of the real cost: for the
 * tests that make hundreds of attempts about the limits, not about the hashing.
 */
const cheapHash = (password: string) => {
  const salt = randomBytes(16)
  return `scrypt$1024$8$1$${salt.toString('base64url')}$${scryptSync(password, salt, 32, { N: 1024, r: 8, p: 1 }).toString('base64url')}`
}

/** Against the real embedded store (no mocks): the limits live in its counters. */
let store: Store
beforeAll(async () => {
  store = await openStore({ dataDir: mkdtempSync(join(tmpdir(), 'postern-signin-')), clock: Date.now, onError: () => {} })
  await store.insertUser({ email: 'ann@example.com', uid: 'uid-ann', displayName: '', passwordHash: cheapHash('right password'), disabled: false, createTime: 0, updateTime: 0 })
  await store.insertUser({ email: 'off@example.com', uid: 'uid-off', displayName: '', passwordHash: cheapHash('right password'), disabled: true, createTime: 0, updateTime: 0 })
  // One account with a hash as hashPassword makes it, so that the real parameters are signed in with too.
  await store.insertUser({ email: 'real@example.com', uid: 'uid-real', displayName: '', passwordHash: await hashPassword('right password'), disabled: false, createTime: 0, updateTime: 0 })
})
afterAll(() => store?.close())

describe('attempt limits', () => {
  const W = SIGN_IN_WINDOW_MS
  const limit = (key: string, max = 3) => [{ key, max, windowMs: W }]
  const only = (limits: ReturnType<typeof limit>) => ({ counters: [], limits })

  it('refuses once failures reach the limit, without counting the refused attempts, until the window slides on', async () => {
    const limits = limit('t:a')
    for (let i = 0; i < 3; i++) expect(await beginAttempt(store, only(limits), 0)).toBeUndefined()
    expect(await beginAttempt(store, only(limits), 1000)).toEqual({ limit: limits[0], retryAfterMs: W - 1000 + Math.ceil(W * (1 - 2 / 3)) + 1 })
    expect(await beginAttempt(store, only(limits), 2000)).toMatchObject({ limit: limits[0] })
    // At the next fixed window the previous one still weighs in full: no burst at the boundary.
    expect(await beginAttempt(store, only(limits), W)).toMatchObject({ limit: limits[0] })
    // A third of the way in, one failure has slid out of the window: room for one attempt.
    expect(await beginAttempt(store, only(limits), W + W / 3 - 1)).toMatchObject({ limit: limits[0] })
    expect(await beginAttempt(store, only(limits), W + W / 3 + 1)).toBeUndefined()
    expect(await beginAttempt(store, only(limits), W + W / 3 + 2)).toMatchObject({ limit: limits[0] })
    expect(await beginAttempt(store, only(limits), 3 * W)).toBeUndefined()
  })

  it('does not count successes as failures', async () => {
    const limits = limit('t:b')
    for (let i = 0; i < 10; i++) {
      expect(await beginAttempt(store, only(limits), 0)).toBeUndefined()
      await attemptSucceeded(store, limits, 0)
    }
  })

  it('counts attempts in flight, so a parallel burst cannot overshoot', async () => {
    const limits = limit('t:c', 5)
    const results = await Promise.all(Array.from({ length: 30 }, () => beginAttempt(store, only(limits), 0)))
    expect(results.filter((r) => r === undefined)).toHaveLength(5)
  })

  it('estimates the sliding window and when it lets one more attempt through', () => {
    expect(fixedWindow(W * 3 + 5, W)).toEqual({ start: W * 3, remainingMs: W - 5 })
    expect(slidingFailures(10, 0, 0, W)).toBe(10)
    expect(slidingFailures(10, 2, W / 2, W)).toBe(7)
    expect(limitReached(10, 0, 0, W, 10)).toBe(true)
    expect(limitReached(0, 9, 0, W, 10)).toBe(false)
    expect(retryAfterMs(10, 0, 0, W, 10)).toBe(W / 10 + 1)
    expect(retryAfterMs(0, 10, 0, W, 10)).toBe(W + W / 10 + 1)
    expect(retryAfterMs(0, 20, W / 2, W, 10)).toBe(W / 2 + Math.ceil(W * 0.55) + 1)
    expect(limitReached(10, 0, retryAfterMs(10, 0, 0, W, 10), W, 10)).toBe(false)
    expect(limitReached(10, 0, retryAfterMs(10, 0, 0, W, 10) - 2, W, 10)).toBe(true)
    expect(limitReached(6, 3, retryAfterMs(6, 3, 1000, W, 10) + 1000, W, 10)).toBe(false)
  })
})

describe('signInWithPassword', () => {
  const now = SIGN_IN_WINDOW_MS * 100
  const attempt = (email: string, password: string, t = now, address = '192.0.2.1') => signInWithPassword(store, { email, password, address, now: t })

  it('signs in with the right password, case-insensitively by email', async () => {
    expect(await attempt(' Ann@Example.com ', 'right password', now, '192.0.2.9')).toEqual({ ok: true, uid: 'uid-ann', email: 'ann@example.com' })
    expect(await attempt('real@example.com', 'right password', now, '192.0.2.9')).toEqual({ ok: true, uid: 'uid-real', email: 'real@example.com' })
    expect(await attempt('real@example.com', 'wrong password', now, '192.0.2.9')).toMatchObject({ ok: false })
  })

  it('says the same for an unknown account, a wrong password and a disabled account', async () => {
    for (const [email, password] of [['nobody@example.com', 'x'], ['ann@example.com', 'wrong'], ['off@example.com', 'right password'], ['not an email', 'x']]) {
      expect(await attempt(email!, password!, now, '192.0.2.2')).toEqual({ ok: false, message: WRONG_CREDENTIALS })
    }
  })

  it('counts failures per counter, each with its own window, and reads them without counting', async () => {
    const short = { key: 't:d', windowMs: 1_000 }
    const long = { key: 't:d', windowMs: SIGN_IN_WINDOW_MS }
    for (let i = 0; i < 3; i++) expect(await beginAttempt(store, { counters: [short, long], limits: [] }, 0)).toBeUndefined()
    await attemptSucceeded(store, [short, long], 0)
    expect(await recentFailures(store, [short, long], 500)).toEqual([2, 2])
    expect(await recentFailures(store, [short, long], 1_500)).toEqual([1, 2])
    expect(await recentFailures(store, [short, long], 2_000)).toEqual([0, 2])
  })

  it('waits double with every failure past the free ones', () => {
    expect([0, 4, 5, 6, 7, 15, 16, 100].map((n) => backoffStep(n, 5))).toEqual([undefined, undefined, 0, 1, 2, 10, 10, 10])
    expect(backoffStep(0, 1)).toBeUndefined()
    expect(backoffStep(1, 1)).toBe(0)
  })

  it('ten wrong passwords from one address do not stop the right one from another, nor from the same once the wait is over', async () => {
    const t = now + 10 * SIGN_IN_WINDOW_MS
    const outcomes: string[] = []
    for (let i = 0; i < 10; i++) {
      outcomes.push(await attempt('ann@example.com', `guess ${i}`, t + i, '198.51.100.1').then((r) => (r.ok ? 'ok' : 'wrong'), (e: PosternError) => e.status))
    }
    // Five free failures, then a wait: the rest are refused without being tried (or counted).
    expect(outcomes).toEqual([...Array(5).fill('wrong'), ...Array(5).fill('RESOURCE_EXHAUSTED')])
    expect((await attempt('ann@example.com', 'right password', t + 10, '203.0.113.1')).ok).toBe(true)
    const waiting = await attempt('ann@example.com', 'right password', t + 10, '198.51.100.1').catch((e: unknown) => e)
    expect(waiting).toBeInstanceOf(PosternError)
    expect((waiting as PosternError).message).toMatch(/^Too many failed sign-in attempts for this account from this address\. Try again in [12] seconds?\.$/)
    const retryAfter = Number((waiting as PosternError).headers!['retry-after'])
    expect((await attempt('ann@example.com', 'right password', t + 10 + retryAfter * 1000, '198.51.100.1')).ok).toBe(true)
  })

  it('whatever the pace of the guesses, the right password gets in once the wait it was told is over', async () => {
    // Guesses spread over window boundaries: two limits then share a counter, and the wait must
    // come from reading it once (reading it twice made the wait a window short).
    let seed = 7
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
    const paceHash = (await store.getUser('ann@example.com'))!.passwordHash
    for (let trial = 0; trial < 60; trial++) {
      const account = `pace-${trial}@example.com`
      await store.insertUser({ email: account, uid: `uid-pace-${trial}`, displayName: '', passwordHash: paceHash, disabled: false, createTime: 0, updateTime: 0 })
      let t = now + 20 * SIGN_IN_WINDOW_MS + trial * 60_000 + Math.floor(random() * 1000)
      for (let i = 0; i < 7; i++) {
        await attempt(account, 'wrong', t, '198.51.100.9').catch(() => undefined)
        t += Math.floor(random() * 700)
      }
      const waiting = await attempt(account, 'right password', t, '198.51.100.9').catch((e: PosternError) => e)
      if (!(waiting instanceof PosternError)) continue
      t += Number(waiting.headers!['retry-after']) * 1000 + Math.floor(random() * 700)
      const after = await attempt(account, 'right password', t, '198.51.100.9').catch((e: PosternError) => e)
      expect(after, `trial ${trial}`).toMatchObject({ ok: true })
    }
  })

  it('the waits double with each failure past the free ones', async () => {
    let t = now + 12 * SIGN_IN_WINDOW_MS
    const waits: number[] = []
    for (let i = 0; i < 9; i++) {
      for (;;) {
        const r = await attempt('ann@example.com', `guess ${i}`, t, '198.51.100.2').catch((e: PosternError) => e)
        if (!(r instanceof PosternError)) break
        const seconds = Number(r.headers!['retry-after'])
        waits.push(seconds)
        t += seconds * 1000
      }
    }
    // Each wait is one to two windows of its length (the sliding estimate): 1, 2, 4, 8 s.
    expect(waits).toHaveLength(4)
    for (const [k, seconds] of waits.entries()) {
      expect(seconds).toBeGreaterThanOrEqual(2 ** k)
      expect(seconds).toBeLessThanOrEqual(2 ** (k + 1) + 1)
    }
  })

  it('an account under attack from many addresses slows every address, but the owner still gets in', async () => {
    const t = now + 14 * SIGN_IN_WINDOW_MS
    for (let i = 0; i < SIGN_IN_LIMITS.accountUnderAttack; i++) expect((await attempt('ann@example.com', 'guess', t, `198.51.100.${100 + i}`)).ok).toBe(false)
    // A new address now has one free failure, not five…
    expect((await attempt('ann@example.com', 'guess', t, '198.51.100.200')).ok).toBe(false)
    await expect(attempt('ann@example.com', 'guess', t, '198.51.100.200')).rejects.toThrow(/Try again in/)
    // …and the owner, from an address with no failures, signs in at once.
    expect((await attempt('ann@example.com', 'right password', t, '203.0.113.50')).ok).toBe(true)
  })

  it('a parallel burst from one address gets only the free attempts', async () => {
    const t = now + 16 * SIGN_IN_WINDOW_MS
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => attempt('ann@example.com', 'guess', t, '198.51.100.250')))
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(SIGN_IN_LIMITS.freeFailures)
  }, 90_000)

  it('counts an IPv6 client by its /64', async () => {
    const t = now + 18 * SIGN_IN_WINDOW_MS
    for (let i = 0; i < 5; i++) expect((await attempt('ann@example.com', 'guess', t, `2001:db8:1:2::${i + 1}`)).ok).toBe(false)
    await expect(attempt('ann@example.com', 'guess', t, '2001:db8:1:2:ffff::9')).rejects.toThrow(/Try again in/)
    expect((await attempt('ann@example.com', 'right password', t, '2001:db8:1:3::1')).ok).toBe(true)
  })

  it('limits an address across accounts after 50 failures', async () => {
    const t = now + 20 * SIGN_IN_WINDOW_MS
    // Accounts that exist (an unknown one costs a full-price scrypt, 50 of which took half a minute on a busy machine).
    const hash = cheapHash('right password')
    for (let i = 0; i < 50; i++) await store.insertUser({ email: `user${i}@example.com`, uid: `uid-user${i}`, displayName: '', passwordHash: hash, disabled: false, createTime: 0, updateTime: 0 })
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => attempt(`user${i}@example.com`, 'x', t, '192.0.2.77')))
    expect(results.every((r) => !r.ok)).toBe(true)
    const locked = await attempt('ann@example.com', 'right password', t, '192.0.2.77').catch((e: unknown) => e)
    expect((locked as PosternError).message).toMatch(/^Too many failed sign-in attempts from this address\./)
    expect((await attempt('ann@example.com', 'right password', t, '192.0.2.78')).ok).toBe(true)
  }, 90_000)
})
