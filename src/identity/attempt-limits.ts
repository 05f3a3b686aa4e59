import type { Store } from '../store/store.js'

/**
 * Fixed-window limits on failed attempts, kept in the store (so every process shares them) with
 * nothing but `countEvent`. A failure is an attempt that did not (yet) succeed: each attempt is
 * counted before it is evaluated, each success afterwards, and failures = attempts − successes.
 * An attempt in flight therefore counts as a failure, so a burst of parallel guesses cannot
 * overshoot the limit; an attempt refused for the limit is rolled back and not counted, so a
 * locked account does not also lock its address.
 */
export interface Limit {
  /** Counter key, e.g. `signin:account:ann@x.com`. */
  key: string
  max: number
}

export interface LimitWindow {
  start: number
  /** Milliseconds until the window ends. */
  remainingMs: number
}

export function fixedWindow(now: number, windowMs: number): LimitWindow {
  const start = Math.floor(now / windowMs) * windowMs
  return { start, remainingMs: start + windowMs - now }
}

class Refused extends Error {
  constructor(readonly limit: Limit) {
    super('limit reached')
  }
}

class Peeked extends Error {
  constructor(readonly counts: number[]) {
    super('peek')
  }
}

/** Reads counters without changing them: count, then roll the transaction back. */
async function peek(store: Store, keys: readonly string[], windowStart: number): Promise<number[]> {
  try {
    await store.transaction(async (tx) => {
      const counts: number[] = []
      for (const key of keys) counts.push((await tx.countEvent(key, windowStart)) - 1)
      throw new Peeked(counts)
    })
  } catch (err) {
    if (err instanceof Peeked) return err.counts
    throw err
  }
  throw new Error('unreachable')
}

/**
 * Counts one attempt against every limit, or returns the first limit already reached (and then
 * counts nothing).
 */
export async function beginAttempt(store: Store, limits: readonly Limit[], windowStart: number): Promise<Limit | undefined> {
  const successes = await peek(store, limits.map((l) => `${l.key}:ok`), windowStart)
  try {
    await store.transaction(async (tx) => {
      for (const [i, limit] of limits.entries()) {
        const attempts = await tx.countEvent(`${limit.key}:attempt`, windowStart)
        if (attempts - 1 - successes[i]! >= limit.max) throw new Refused(limit)
      }
    })
    return undefined
  } catch (err) {
    if (err instanceof Refused) return err.limit
    throw err
  }
}

/** Records that an attempt begun with beginAttempt succeeded, so it stops counting as a failure. */
export async function attemptSucceeded(store: Store, limits: readonly Limit[], windowStart: number): Promise<void> {
  await store.transaction(async (tx) => {
    for (const limit of limits) await tx.countEvent(`${limit.key}:ok`, windowStart)
  })
}
