import { describe, expect, it } from 'vitest'
import { oneAtATime } from './one-at-a-time.js'

describe('oneAtATime', () => {
  it('runs one piece at a time, in the order asked, and a failure does not hold up the next', async () => {
    const lane = oneAtATime()
    let running = 0
    let most = 0
    const order: number[] = []
    const piece = (n: number, fail = false) => lane(async () => {
      running++
      most = Math.max(most, running)
      await new Promise((r) => setTimeout(r, 5))
      order.push(n)
      running--
      if (fail) throw new Error(`piece ${n}`)
      return n
    })
    const results = await Promise.allSettled([piece(1), piece(2, true), piece(3), piece(4)])
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual([1, 'piece 2', 3, 4])
    expect(order).toEqual([1, 2, 3, 4])
    expect(most).toBe(1)
  })
})
