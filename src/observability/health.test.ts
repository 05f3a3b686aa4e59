import { describe, expect, it } from 'vitest'
import { PosternError } from '../core/errors.js'
import { Freshness } from './health.js'

describe('Freshness', () => {
  const make = () => {
    let now = 1_000
    const said: string[] = []
    const freshness = new Freshness(() => now, { log: (_level, msg) => said.push(msg) }, 60_000, 5_000)
    return { freshness, said, at: (t: number) => (now = t) }
  }

  it('serves from memory while the database is unreachable, until the bound, and says so once', () => {
    const { freshness, said, at } = make()
    freshness.failed(new Error('connect ECONNREFUSED'))
    freshness.failed(new Error('connect ECONNREFUSED'))
    expect(said).toEqual(['cannot read the change feed; serving from memory'])
    expect(freshness.stale(at(60_000))).toBe(false)
    expect(freshness.stale(at(61_001))).toBe(true)
  })

  it('a distrusted view is not served from: an unreachable database then does not claim otherwise', () => {
    const { freshness, said } = make()
    freshness.distrust('the database has no Postern schema')
    expect(freshness.stale()).toBe(true)
    freshness.failed(new Error('relation "changes" does not exist'))
    expect(said).toEqual(['cannot read the change feed; still failing closed'])
    expect(freshness.status()).toMatchObject({ ready: false, error: 'the database has no Postern schema' })
  })

  it('says once when it starts failing closed for staleness, and how long it did when it catches up', () => {
    const { freshness, said, at } = make()
    freshness.failed(new Error('Query read timeout'))
    expect(freshness.stale(at(30_000))).toBe(false)
    expect(freshness.stale(at(61_001))).toBe(true)
    expect(freshness.stale(at(62_000))).toBe(true)
    freshness.failed(new Error('Query read timeout'))
    expect(said.slice(1)).toEqual(['failing closed: the view of the database is older than --max-staleness; answering 503 until the change feed is read again'])
    freshness.caughtUp(at(70_000))
    expect(said.slice(2)).toEqual(['database reachable again; caught up with the change feed'])
    expect(freshness.status()).toEqual({ ready: true, ageMs: 0 })
  })

  it('words an unreachable database as what it is, not as a refused write', () => {
    const { freshness, at } = make()
    const refused = new PosternError('UNAVAILABLE', 'The database is unreachable; nothing was changed. Try again shortly.', { condition: 'the database is unreachable (Query read timeout)' })
    freshness.failed(refused)
    expect(freshness.status(at(9_000))).toEqual({ ready: false, ageMs: 8_000, error: 'the change feed was last read 8 s ago; its last read failed: the database is unreachable (Query read timeout)' })
  })
})
