import { describe, expect, it } from 'vitest'
import { lockIsStale, parseHolder } from './file-lock.js'

describe('the credentials lock: when a lock found in place may be taken over', () => {
  const here = 'devbox'
  const alive = (pid: number) => pid === 42

  it('never while its holder on this host is alive, however long it has held it (a slow server)', () => {
    expect(lockIsStale({ holder: { pid: 42, host: here }, ageMs: 3_600_000, here, alive })).toBe(false)
  })

  it('at once when its holder is gone (died, or stopped with Ctrl-C)', () => {
    expect(lockIsStale({ holder: { pid: 43, host: here }, ageMs: 0, here, alive })).toBe(true)
  })

  it('with no holder written: after a grace for the one creating it (an older CLI left such locks)', () => {
    expect(lockIsStale({ holder: undefined, ageMs: 1_000, here, alive })).toBe(false)
    expect(lockIsStale({ holder: undefined, ageMs: 6_000, here, alive })).toBe(true)
  })

  it('held from another host (a shared home): only after three minutes, as it cannot be asked', () => {
    expect(lockIsStale({ holder: { pid: 42, host: 'other' }, ageMs: 60_000, here, alive })).toBe(false)
    expect(lockIsStale({ holder: { pid: 42, host: 'other' }, ageMs: 181_000, here, alive })).toBe(true)
  })

  it('reads a holder as pid and host, and nothing else as one', () => {
    expect(parseHolder('123\ndevbox\n')).toEqual({ pid: 123, host: 'devbox' })
    for (const bad of ['', '\n', 'abc\nhost\n', '0\nhost\n', '12\n', '-3\nh\n']) expect(parseHolder(bad), JSON.stringify(bad)).toBeUndefined()
  })
})
