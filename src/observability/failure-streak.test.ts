import { describe, expect, it } from 'vitest'
import { FailureStreak } from './failure-streak.js'

describe('FailureStreak: one line as a periodic task starts failing, one as it recovers', () => {
  it('says nothing while all is well', () => {
    const s = new FailureStreak()
    expect(s.succeeded(0)).toBeUndefined()
    expect(s.succeeded(5_000)).toBeUndefined()
  })

  it('warns on the first failure only, and reports the streak once when it ends', () => {
    const s = new FailureStreak()
    const warned = [0, 5_000, 10_000, 15_000].map((t) => s.failed(t))
    expect(warned).toEqual([true, false, false, false])
    expect(s.succeeded(20_000)).toEqual({ failedRuns: 4, failingForMs: 20_000 })
    expect(s.succeeded(25_000)).toBeUndefined()
  })

  it('a new streak after a recovery is warned of again, counted from its own start', () => {
    const s = new FailureStreak()
    s.failed(0)
    s.succeeded(5_000)
    expect(s.failed(60_000)).toBe(true)
    expect(s.failed(65_000)).toBe(false)
    expect(s.succeeded(70_000)).toEqual({ failedRuns: 2, failingForMs: 10_000 })
  })

  it('a clock that steps back never makes a negative duration', () => {
    const s = new FailureStreak()
    s.failed(10_000)
    expect(s.succeeded(9_000)).toEqual({ failedRuns: 1, failingForMs: 0 })
  })
})
