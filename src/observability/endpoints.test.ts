import { describe, expect, it } from 'vitest'
import { PosternError } from '../core/errors.js'
import { boundedPing } from './endpoints.js'

describe('boundedPing (what /readyz asks the database)', () => {
  it('answers within its bound when the database does not answer at all, and probes meanwhile share the one ping', async () => {
    let pings = 0
    const ping = boundedPing({ ping: () => (pings++, new Promise<void>(() => {})) }, 50)
    const started = Date.now()
    expect(await Promise.all([ping(), ping()])).toEqual(['the database did not answer within 50 ms', 'the database did not answer within 50 ms'])
    expect(Date.now() - started).toBeLessThan(1_000)
    expect(await ping()).toBe('the database did not answer within 50 ms')
    expect(pings).toBe(1)
  })

  it('says ok, or the condition of a failure rather than the refused write\'s advice', async () => {
    expect(await boundedPing({ ping: async () => {} }, 50)()).toBe('ok')
    const failing = boundedPing({ ping: () => Promise.reject(new PosternError('UNAVAILABLE', 'The database is unreachable; nothing was changed. Try again shortly.', { condition: 'the database is unreachable (connect ECONNREFUSED)' })) }, 50)
    expect(await failing()).toBe('the database is unreachable (connect ECONNREFUSED)')
  })
})
