import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PosternError } from '../core/errors.js'
import { openStore } from '../store/open-store.js'
import type { Store } from '../store/store.js'
import { attemptSucceeded, beginAttempt, fixedWindow } from './attempt-limits.js'
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
  const limit = (key: string, max = 3) => [{ key, max }]

  it('refuses once failures reach the limit, without counting the refused attempts', async () => {
    const limits = limit('t:a')
    for (let i = 0; i < 3; i++) expect(await beginAttempt(store, limits, 0)).toBeUndefined()
    expect(await beginAttempt(store, limits, 0)).toBe(limits[0])
    expect(await beginAttempt(store, limits, 0)).toBe(limits[0])
    // A new window starts afresh.
    expect(await beginAttempt(store, limits, SIGN_IN_WINDOW_MS)).toBeUndefined()
  })

  it('does not count successes as failures', async () => {
    const limits = limit('t:b')
    for (let i = 0; i < 10; i++) {
      expect(await beginAttempt(store, limits, 0)).toBeUndefined()
      await attemptSucceeded(store, limits, 0)
    }
  })

  it('counts attempts in flight, so a parallel burst cannot overshoot', async () => {
    const limits = limit('t:c', 5)
    const results = await Promise.all(Array.from({ length: 30 }, () => beginAttempt(store, limits, 0)))
    expect(results.filter((r) => r === undefined)).toHaveLength(5)
  })

  it('aligns windows', () => {
    expect(fixedWindow(SIGN_IN_WINDOW_MS * 3 + 5, SIGN_IN_WINDOW_MS)).toEqual({ start: SIGN_IN_WINDOW_MS * 3, remainingMs: SIGN_IN_WINDOW_MS - 5 })
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

  it('locks an account after 10 failures, also against the right password, until the window passes', async () => {
    const t = now + SIGN_IN_WINDOW_MS
    for (let i = 0; i < MAX_FAILURES_PER_ACCOUNT; i++) expect((await attempt('ann@example.com', `guess ${i}`, t, `198.51.100.${i}`)).ok).toBe(false)
    const locked = await attempt('ann@example.com', 'right password', t, '203.0.113.1').catch((e: unknown) => e)
    expect(locked).toBeInstanceOf(PosternError)
    expect((locked as PosternError).status).toBe('RESOURCE_EXHAUSTED')
    expect((locked as PosternError).message).toBe('Too many failed sign-in attempts for this account. Try again in 15 minutes.')
    expect((await attempt('ann@example.com', 'right password', t + SIGN_IN_WINDOW_MS, '203.0.113.1')).ok).toBe(true)
  })

  it('limits an address across accounts after 50 failures', async () => {
    const t = now + 5 * SIGN_IN_WINDOW_MS
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => attempt(`user${i}@example.com`, 'x', t, '192.0.2.77')))
    expect(results.every((r) => !r.ok)).toBe(true)
    const locked = await attempt('ann@example.com', 'right password', t, '192.0.2.77').catch((e: unknown) => e)
    expect((locked as PosternError).message).toMatch(/^Too many failed sign-in attempts from this address\./)
    expect((await attempt('ann@example.com', 'right password', t, '192.0.2.78')).ok).toBe(true)
  }, 30_000)
})
