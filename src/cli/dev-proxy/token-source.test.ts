import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { renewingToken } from './token-source.js'

/** An unsigned token with the given lifetime: renewingToken reads only iat and exp. */
const tokenFor = (n: number, lifetimeS = 30) => {
  const now = Math.floor(Date.now() / 1000)
  return `h.${Buffer.from(JSON.stringify({ n, iat: now, exp: now + lifetimeS })).toString('base64url')}.s`
}

describe('renewingToken', () => {
  beforeEach(() => vi.useFakeTimers())
  afterEach(() => vi.useRealTimers())

  it('says a failure once while it lasts, tries less often up to once a minute, and says when a renewal works again', async () => {
    const minted: string[] = []
    let failure: string | undefined
    const mint = vi.fn(async () => {
      if (failure) throw new Error(failure)
      minted.push(tokenFor(minted.length + 1))
      return minted.at(-1)!
    })
    const errors: [string, number][] = []
    let recovered = 0
    const source = await renewingToken(mint, { onError: (err, retryInMs) => errors.push([err.message, retryInMs]), onRecover: () => recovered++ })
    expect(source.current()).toBe(minted[0])

    failure = 'The session of dev@example.com has ended.'
    await vi.advanceTimersByTimeAsync(20_000) // two thirds of 30 s: the first renewal fails
    expect(errors).toEqual([[failure, 5_000]])
    // Tries after 5, 10, 20, 40, 60, 60 s: six more, none said again.
    await vi.advanceTimersByTimeAsync(5_000 + 10_000 + 20_000 + 40_000 + 60_000 + 60_000)
    expect(mint).toHaveBeenCalledTimes(1 + 1 + 6)
    expect(errors).toHaveLength(1)
    expect(source.current()).toBe(minted[0]) // the last token is kept meanwhile

    failure = 'Could not reach http://127.0.0.1:7070.'
    await vi.advanceTimersByTimeAsync(60_000)
    expect(errors.map(([m]) => m)).toEqual(['The session of dev@example.com has ended.', failure]) // another failure is said

    failure = undefined
    await vi.advanceTimersByTimeAsync(60_000)
    expect(recovered).toBe(1)
    expect(minted).toHaveLength(2)
    expect(source.current()).toBe(minted[1])
    // Renewed again on the token's own schedule, and a later failure starts again at 5 s.
    failure = 'down again'
    await vi.advanceTimersByTimeAsync(20_000)
    expect(errors.at(-1)).toEqual(['down again', 5_000])
    source.stop()
  })

  it('renewSoon renews at once, at most once in 5 s, and the renewal then keeps its schedule', async () => {
    const minted: string[] = []
    const mint = vi.fn(async () => {
      minted.push(tokenFor(minted.length + 1, 3600))
      return minted.at(-1)!
    })
    const source = await renewingToken(mint, { onError: () => undefined })
    await vi.advanceTimersByTimeAsync(5_000)
    source.renewSoon()
    await vi.advanceTimersByTimeAsync(0)
    expect(mint).toHaveBeenCalledTimes(2)
    expect(source.current()).toBe(minted[1])
    source.renewSoon() // a burst of refused requests: one renewal
    await vi.advanceTimersByTimeAsync(4_000)
    source.renewSoon()
    expect(mint).toHaveBeenCalledTimes(2)
    await vi.advanceTimersByTimeAsync(2_400_000) // two thirds of the hour after the renewal
    expect(mint).toHaveBeenCalledTimes(3)
    source.stop()
  })
})
