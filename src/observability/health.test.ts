import { describe, expect, it } from 'vitest'
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
})
