import { describe, expect, it } from 'vitest'
import { shapeServices } from './nginx-shape.js'

const https = (name: string, timeoutSeconds = 300) => ({ upstream: `https://${name}.example:8443/base`, timeoutSeconds })
const plain = (port: number, timeoutSeconds = 300) => ({ upstream: `http://127.0.0.1:${port}`, timeoutSeconds })

describe('when a change to services reloads nginx', () => {
  it('never for plain-HTTP upstreams, nor for timeouts from a minute up', () => {
    const start = shapeServices([plain(9000)])
    expect(start).toMatchObject({ reload: true, shape: { tlsBlocks: 32, bodyTimeouts: [] } })
    const later = shapeServices([plain(9001), plain(9002, 60), plain(9003, 3600), plain(9004, 61)], start)
    expect(later.reload).toBe(false)
    expect(later.shape).toBe(start.shape)
  })

  it('for a timeout under a minute it has no location for, and not for one it has, nor for one gone', () => {
    const start = shapeServices([plain(9000, 7)])
    expect(start.shape.bodyTimeouts).toEqual([7])
    expect(shapeServices([plain(9001, 7), plain(9002)], start).reload).toBe(false)
    const nine = shapeServices([plain(9000, 9), plain(9001, 7)], start)
    expect(nine).toMatchObject({ reload: true, shape: { bodyTimeouts: [7, 9] }, why: expect.stringContaining('no location for (9 s)') })
    expect(shapeServices([plain(9001)], nine).reload).toBe(false)
  })

  it('for https server names only once more have had services since it loaded than it has blocks, however many come and go', () => {
    let shaped = shapeServices([https('a'), https('a', 900), https('b')])
    expect(shaped.shape.tlsBlocks).toBe(2 + 32)
    // One name at a time created, its service deleted before the next: each worker may have given
    // every one of them a block, which it keeps while it lives.
    for (let i = 0; i < 32; i++) {
      shaped = shapeServices([https('a'), https('b'), https(`new${i}`)], shaped)
      expect(shaped.reload).toBe(false)
    }
    expect(shaped.serverNames.size).toBe(34)
    shaped = shapeServices([https('a'), https('b'), https('one-too-many')], shaped)
    expect(shaped).toMatchObject({ reload: true, shape: { tlsBlocks: 3 + 32 } })
    expect([...shaped.serverNames].sort()).toEqual(['a.example', 'b.example', 'one-too-many.example'])
  })

  it('for names come and gone even when the shape comes out the same: the workers that gave out every block must be replaced', () => {
    let shaped = shapeServices([https('a'), https('b'), https('c')])
    for (let i = 0; i < 32; i++) shaped = shapeServices([https('a'), https('b'), https(`new${i}`)], shaped)
    expect(shaped.reload).toBe(false)
    const again = shapeServices([https('a'), https('b'), https('new32')], shaped)
    expect(again.reload).toBe(true)
    // As many names in use as at the start: the same blocks, yet a reload (nginx-plane.ts makes it).
    expect(again.shape).toEqual(shapeServices([https('a'), https('b'), https('c')]).shape)
  })

  it('with half as many blocks again as server names in use, when that is more than 32 spare', () => {
    const names = Array.from({ length: 1000 }, (_, i) => https(`app${i}`))
    expect(shapeServices(names).shape.tlsBlocks).toBe(1500)
  })
})
