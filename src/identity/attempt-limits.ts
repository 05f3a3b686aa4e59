import type { Store } from '../store/store.js'

/**
 * Limits on failed attempts, kept in the store (so every process shares them) with nothing but
 * `countEvent`. A failure is an attempt that did not (yet) succeed: each attempt is counted
 * before it is evaluated, each success afterwards, and failures = attempts − successes. An
 * attempt in flight therefore counts as a failure, so a burst of parallel guesses cannot
 * overshoot; an attempt refused for the limit is rolled back and not counted, so a locked account
 * does not also lock its address.
 *
 * The window slides (the usual two-counter estimate): failures in the current fixed window plus
 * the previous window's, weighted by how much of it still overlaps. A fixed window alone would
 * allow twice the limit around each boundary.
 */
export interface Limit {
  /** Counter key, e.g. `signin:account:ann@x.com`. */
  key: string
  max: number
}

export interface Refusal {
  limit: Limit
  /** How long until one more attempt would be allowed. */
  retryAfterMs: number
}

export function fixedWindow(now: number, windowMs: number): { start: number; remainingMs: number } {
  const start = Math.floor(now / windowMs) * windowMs
  return { start, remainingMs: start + windowMs - now }
}

/** Failures in the sliding window ending `elapsedMs` into the current fixed window — pure. */
export function slidingFailures(previous: number, current: number, elapsedMs: number, windowMs: number): number {
  return previous * (1 - elapsedMs / windowMs) + current
}

/** Whether one more failure would take the window past `max`. */
export function limitReached(previous: number, current: number, elapsedMs: number, windowMs: number, max: number): boolean {
  return slidingFailures(previous, current, elapsedMs, windowMs) + 1 > max
}

/** Time until limitReached turns false, the counts staying as they are — pure. */
export function retryAfterMs(previous: number, current: number, elapsedMs: number, windowMs: number, max: number): number {
  // Once this window's failures alone fill the limit, wait for the next window, where they weigh
  // as the previous window's; otherwise until the previous window's weight has dropped enough.
  if (current >= max) return windowMs - elapsedMs + Math.ceil(windowMs * (1 - (max - 1) / current)) + 1
  if (previous <= 0) return 0
  return Math.max(0, Math.ceil(windowMs * (1 - (max - 1 - current) / previous)) - elapsedMs + 1)
}

class Refused extends Error {
  constructor(readonly refusal: Refusal) {
    super('limit reached')
  }
}

class Peeked extends Error {
  constructor(readonly counts: number[]) {
    super('peek')
  }
}

/** Reads counters without changing them: count, then roll the transaction back. */
async function peek(store: Store, counters: readonly [key: string, windowStart: number][]): Promise<number[]> {
  try {
    await store.transaction(async (tx) => {
      const counts: number[] = []
      for (const [key, start] of counters) counts.push((await tx.countEvent(key, start)) - 1)
      throw new Peeked(counts)
    })
  } catch (err) {
    if (err instanceof Peeked) return err.counts
    throw err
  }
  throw new Error('unreachable')
}

/**
 * Counts one attempt against every limit, or refuses it (counting nothing) when a limit is
 * already reached.
 */
export async function beginAttempt(store: Store, limits: readonly Limit[], now: number, windowMs: number): Promise<Refusal | undefined> {
  const { start, remainingMs } = fixedWindow(now, windowMs)
  const elapsed = windowMs - remainingMs
  const before = start - windowMs
  const counts = await peek(store, limits.flatMap((l) => [[`${l.key}:attempt`, before], [`${l.key}:ok`, before], [`${l.key}:ok`, start]] as [string, number][]))
  try {
    await store.transaction(async (tx) => {
      for (const [i, limit] of limits.entries()) {
        const previous = Math.max(0, counts[3 * i]! - counts[3 * i + 1]!)
        const current = Math.max(0, (await tx.countEvent(`${limit.key}:attempt`, start)) - 1 - counts[3 * i + 2]!)
        if (limitReached(previous, current, elapsed, windowMs, limit.max)) {
          throw new Refused({ limit, retryAfterMs: retryAfterMs(previous, current, elapsed, windowMs, limit.max) })
        }
      }
    })
    return undefined
  } catch (err) {
    if (err instanceof Refused) return err.refusal
    throw err
  }
}

/** Records that an attempt begun with beginAttempt succeeded, so it stops counting as a failure. */
export async function attemptSucceeded(store: Store, limits: readonly Limit[], now: number, windowMs: number): Promise<void> {
  const { start } = fixedWindow(now, windowMs)
  await store.transaction(async (tx) => {
    for (const limit of limits) await tx.countEvent(`${limit.key}:ok`, start)
  })
}
