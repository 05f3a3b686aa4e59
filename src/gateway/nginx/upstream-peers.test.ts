import { describe, expect, it, vi } from 'vitest'
import { upstreamField } from './decision.js'
import { UpstreamPeers } from './upstream-peers.js'

describe('an upstream’s peers, as verdicts carry them', () => {
  it('an address is its own peer, at the URL’s port or the scheme’s; IPv6 in brackets', () => {
    const peers = new UpstreamPeers(async () => {
      throw new Error('no name is looked up for an address')
    })
    expect(peers.of('http://127.0.0.1:9000')).toBe('127.0.0.1:9000')
    expect(peers.of('http://10.0.0.7')).toBe('10.0.0.7:80')
    expect(peers.of('http://[::1]:8080')).toBe('[::1]:8080')
    expect(peers.of('https://10.0.0.7')).toBe('10.0.0.7:443')
  })

  it('a host name is waited for the first time it is asked for, then known: its addresses in order, none when it resolves to nothing', async () => {
    const answers: Record<string, string[]> = { 'app.internal': ['10.0.0.1', 'fd00::1'], 'gone.internal': [] }
    const asked: string[] = []
    const peers = new UpstreamPeers(async (host) => {
      asked.push(host)
      return answers[host] ?? []
    })
    const services = ['http://app.internal:8080', 'http://gone.internal', 'http://unasked.internal', 'http://127.0.0.1:1']
    expect(await peers.of('http://app.internal:8080')).toBe('10.0.0.1:8080,[fd00::1]:8080')
    expect(await peers.of('http://gone.internal')).toBeUndefined()
    expect(peers.of('http://app.internal:8080')).toBe('10.0.0.1:8080,[fd00::1]:8080')
    expect(peers.of('http://gone.internal')).toBeUndefined()
    expect(peers.of('http://gone.internal')).toBeUndefined()
    // Only what verdicts asked for is looked up, once each.
    expect(asked.sort()).toEqual(['app.internal', 'gone.internal'])
    // Services changed: the names still in use are looked up again, and what they resolve to now is carried.
    answers['app.internal'] = ['10.0.0.2']
    await peers.refresh(services)
    expect(peers.of('http://app.internal:8080')).toBe('10.0.0.2:8080')
    expect(asked.filter((h) => h === 'app.internal')).toHaveLength(2)
    // A name no service uses any more is forgotten, not looked up again.
    await peers.refresh(['http://127.0.0.1:1'])
    expect(asked.filter((h) => h === 'app.internal')).toHaveLength(2)
  })

  it('a name that takes too long to look up is given up on for the verdict that asked (Postern’s gateway forwards it)', async () => {
    vi.useFakeTimers()
    try {
      const peers = new UpstreamPeers(() => new Promise(() => {}))
      const asked = peers.of('https://slow.internal')
      await vi.advanceTimersByTimeAsync(2_000)
      expect(await asked).toBeUndefined()
    } finally {
      vi.useRealTimers()
    }
  })

  it('a verdict names an upstream with its peers, or by its name alone when it has none', () => {
    expect(upstreamField('http:', 'postern_a1_0123456789ab', '127.0.0.1:9000,[::1]:9000')).toBe('http://postern_a1_0123456789ab@127.0.0.1:9000,[::1]:9000')
    expect(upstreamField('http:', 'postern_a1_0123456789ab', undefined)).toBe('http://postern_a1_0123456789ab')
    expect(upstreamField('https:', 'postern_d4_0123456789ab', '192.0.2.7:443')).toBe('https://postern_d4_0123456789ab@192.0.2.7:443')
  })
})
