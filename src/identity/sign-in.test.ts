import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PosternError } from '../core/errors.js'
import { openStore } from '../store/open-store.js'
import type { Store } from '../store/store.js'
import { attemptSucceeded, beginAttempt, fixedWindow, limitReached, retryAfterMs, slidingFailures } from './attempt-limits.js'
import { hashPassword } from './passwords.js'
import { MAX_FAILURES_PER_ACCOUNT, SIGN_IN_WINDOW_MS, WRONG_CREDENTIALS, signInWithPassword } from './sign-in.js'

/** Against the real embedded store (no mocks): the limits live in its counters. */
let store: Store
beforeAll(async () => {
  store = await openStore({ dataDir: mkdtempSync(join(tmpdir(), 'postern-signin-')), clock: Date.now, onError: () => {} })
  await store.insertUser({ email: 'ann@example.com', uid: 'uid-ann', displayName: '', passwordHash: await hashPassword('right password'), disabled: false, createTime: 0, updateTime: 0 })
  await store.insertUser({ email: 'off@example.com', uid: 'uid-off', displayName: '', passwordHash: await hashPassword('right password'), disabled: true, createTime: 0, updateTime: 0 })
})
afterAll(() => store?.close())

describe('attempt limits', () => {
  const W = SIGN_IN_WINDOW_MS
  const limit = (key: string, max = 3) => [{ key, max }]

  it('refuses once failures reach the limit, without counting the refused attempts, until the window slides on', async () => {
    const limits = limit('t:a')
    for (let i = 0; i < 3; i++) expect(await beginAttempt(store, limits, 0, W)).toBeUndefined()
    expect(await beginAttempt(store, limits, 1000, W)).toEqual({ limit: limits[0], retryAfterMs: W - 1000 + Math.ceil(W * (1 - 2 / 3)) + 1 })
    expect(await beginAttempt(store, limits, 2000, W)).toMatchObject({ limit: limits[0] })
    // At the next fixed window the previous one still weighs in full: no burst at the boundary.
    expect(await beginAttempt(store, limits, W, W)).toMatchObject({ limit: limits[0] })
    // A third of the way in, one failure has slid out of the window: room for one attempt.
    expect(await beginAttempt(store, limits, W + W / 3 - 1, W)).toMatchObject({ limit: limits[0] })
    expect(await beginAttempt(store, limits, W + W / 3 + 1, W)).toBeUndefined()
    expect(await beginAttempt(store, limits, W + W / 3 + 2, W)).toMatchObject({ limit: limits[0] })
    expect(await beginAttempt(store, limits, 3 * W, W)).toBeUndefined()
  })

  it('does not count successes as failures', async () => {
    const limits = limit('t:b')
    for (let i = 0; i < 10; i++) {
      expect(await beginAttempt(store, limits, 0, W)).toBeUndefined()
      await attemptSucceeded(store, limits, 0, W)
    }
  })

  it('counts attempts in flight, so a parallel burst cannot overshoot', async () => {
    const limits = limit('t:c', 5)
    const results = await Promise.all(Array.from({ length: 30 }, () => beginAttempt(store, limits, 0, W)))
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
  })

  it('says the same for an unknown account, a wrong password and a disabled account', async () => {
    for (const [email, password] of [['nobody@example.com', 'x'], ['ann@example.com', 'wrong'], ['off@example.com', 'right password'], ['not an email', 'x']]) {
      expect(await attempt(email!, password!, now, '192.0.2.2')).toEqual({ ok: false, message: WRONG_CREDENTIALS })
    }
  })

  it('locks an account after 10 failures, also against the right password, until the window slides on', async () => {
    const t = now + 10 * SIGN_IN_WINDOW_MS
    for (let i = 0; i < MAX_FAILURES_PER_ACCOUNT; i++) expect((await attempt('ann@example.com', `guess ${i}`, t, `198.51.100.${i}`)).ok).toBe(false)
    const locked = await attempt('ann@example.com', 'right password', t, '203.0.113.1').catch((e: unknown) => e)
    expect(locked).toBeInstanceOf(PosternError)
    expect((locked as PosternError).status).toBe('RESOURCE_EXHAUSTED')
    // All ten fell at the start of a window; the estimate lets them out only as it slides on.
    expect((locked as PosternError).message).toBe('Too many failed sign-in attempts for this account. Try again in 17 minutes.')
    await expect(attempt('ann@example.com', 'right password', t + SIGN_IN_WINDOW_MS, '203.0.113.1')).rejects.toThrow(/Try again in 2 minutes\./)
    expect((await attempt('ann@example.com', 'right password', t + 2 * SIGN_IN_WINDOW_MS, '203.0.113.1')).ok).toBe(true)
  })

  it('limits an address across accounts after 50 failures', async () => {
    const t = now + 20 * SIGN_IN_WINDOW_MS
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => attempt(`user${i}@example.com`, 'x', t, '192.0.2.77')))
    expect(results.every((r) => !r.ok)).toBe(true)
    const locked = await attempt('ann@example.com', 'right password', t, '192.0.2.77').catch((e: unknown) => e)
    expect((locked as PosternError).message).toMatch(/^Too many failed sign-in attempts from this address\./)
    expect((await attempt('ann@example.com', 'right password', t, '192.0.2.78')).ok).toBe(true)
  }, 30_000)
})
