import { describe, expect, it } from 'vitest'
import { lockIsStale, parseHolder } from './file-lock.js'

describe('the credentials lock: when a lock found in place may be taken over', () => {
  const here = 'devbox'
  const alive = (pid: number) => pid === 42

  const uptimeMs = 86_400_000

  it('never while its holder on this host is alive and within the time a refresh can take (a slow server)', () => {
    expect(lockIsStale({ holder: { pid: 42, host: here }, ageMs: 140_000, here, alive, uptimeMs })).toBe(false)
  })

  it('when a holder that seems alive has held it longer than any refresh takes, or since before a reboot (its pid taken by another process)', () => {
    expect(lockIsStale({ holder: { pid: 42, host: here }, ageMs: 151_000, here, alive, uptimeMs })).toBe(true)
    expect(lockIsStale({ holder: { pid: 42, host: here }, ageMs: 60_000, here, alive, uptimeMs: 30_000 })).toBe(true)
  })

  it('at once when its holder is gone (died, or stopped with Ctrl-C)', () => {
    expect(lockIsStale({ holder: { pid: 43, host: here }, ageMs: 0, here, alive, uptimeMs })).toBe(true)
  })

  it('with no holder written: after a grace for the one creating it (an older CLI left such locks)', () => {
    expect(lockIsStale({ holder: undefined, ageMs: 1_000, here, alive, uptimeMs })).toBe(false)
    expect(lockIsStale({ holder: undefined, ageMs: 6_000, here, alive, uptimeMs })).toBe(true)
  })

  it('held from another host (a shared home): only after three minutes, as it cannot be asked', () => {
    expect(lockIsStale({ holder: { pid: 42, host: 'other' }, ageMs: 60_000, here, alive, uptimeMs })).toBe(false)
    expect(lockIsStale({ holder: { pid: 42, host: 'other' }, ageMs: 181_000, here, alive, uptimeMs })).toBe(true)
  })

  it('reads a holder as pid and host, and nothing else as one', () => {
    expect(parseHolder('123\ndevbox\n')).toEqual({ pid: 123, host: 'devbox' })
    for (const bad of ['', '\n', 'abc\nhost\n', '0\nhost\n', '12\n', '-3\nh\n']) expect(parseHolder(bad), JSON.stringify(bad)).toBeUndefined()
  })
})
