import type { Store } from '../store/store.js'

/**
 * Limits on failed attempts, kept in the store (so every process shares them) with nothing but
 * `countEvent`. A failure is an attempt that did not (yet) succeed: each attempt is counted
 * before it is evaluated, each success afterwards, and failures = attempts − successes. An
 * attempt in flight therefore counts as a failure, so a burst of parallel guesses cannot
 * overshoot; an attempt refused for a limit is rolled back and not counted, so a refusal never
 * feeds another limit.
 *
 * The window slides (the usual two-counter estimate): failures in the current fixed window plus
 * the previous window's, weighted by how much of it still overlaps. A fixed window alone would
 * allow twice the limit around each boundary. Each counter has its own window.
 */

/** A counter of attempts and successes over a sliding window. */
export interface Counter {
  /** e.g. `signin:pair:ann@x.com|192.0.2.1`. */
  key: string
  windowMs: number
}

/** A counter whose failures may not pass `max`. */
export interface Limit extends Counter {
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

/** Where a counter's events are stored: its key and window, so one key may be counted in windows of several lengths. */
const slot = (c: Counter) => `${c.key}/${c.windowMs}`

/** Each counter once, in a stable order (the same counter may be named as a counter and a limit). */
function distinct(counters: readonly Counter[]): Counter[] {
  const seen = new Map<string, Counter>()
  for (const c of counters) seen.set(slot(c), { key: c.key, windowMs: c.windowMs })
  return [...seen.values()]
}

/** Failures (sliding-window estimates) of each counter now, read without counting anything. */
export async function recentFailures(store: Store, counters: readonly Counter[], now: number): Promise<number[]> {
  const counts = await peek(store, counters.flatMap((c) => {
    const { start } = fixedWindow(now, c.windowMs)
    const before = start - c.windowMs
    return [[`${slot(c)}:attempt`, before], [`${slot(c)}:ok`, before], [`${slot(c)}:attempt`, start], [`${slot(c)}:ok`, start]] as [string, number][]
  }))
  return counters.map((c, i) => {
    const { remainingMs } = fixedWindow(now, c.windowMs)
    const previous = Math.max(0, counts[4 * i]! - counts[4 * i + 1]!)
    const current = Math.max(0, counts[4 * i + 2]! - counts[4 * i + 3]!)
    return slidingFailures(previous, current, c.windowMs - remainingMs, c.windowMs)
  })
}

/**
 * Counts one attempt on every counter and limit, or refuses it (counting nothing) when a limit is
 * already reached. The limits are checked against the counts inside the transaction that adds
 * this attempt, so parallel attempts cannot all slip under one.
 */
export async function beginAttempt(store: Store, o: { counters: readonly Counter[]; limits: readonly Limit[] }, now: number): Promise<Refusal | undefined> {
  const counted = distinct([...o.counters, ...o.limits])
  const windowOf = (c: Counter) => {
    const { start, remainingMs } = fixedWindow(now, c.windowMs)
    return { start, before: start - c.windowMs, elapsed: c.windowMs - remainingMs }
  }
  const counts = await peek(store, o.limits.flatMap((l) => {
    const w = windowOf(l)
    return [[`${slot(l)}:attempt`, w.before], [`${slot(l)}:ok`, w.before], [`${slot(l)}:ok`, w.start]] as [string, number][]
  }))
  try {
    await store.transaction(async (tx) => {
      const attempts = new Map<string, number>()
      for (const c of counted) attempts.set(slot(c), await tx.countEvent(`${slot(c)}:attempt`, windowOf(c).start))
      // Every limit that refuses is asked how long it wants: the caller is told the longest wait,
      // or it would come back when one limit has relented and be refused by the next.
      let refusal: Refusal | undefined
      for (const [i, limit] of o.limits.entries()) {
        const w = windowOf(limit)
        const previous = Math.max(0, counts[3 * i]! - counts[3 * i + 1]!)
        const current = Math.max(0, attempts.get(slot(limit))! - 1 - counts[3 * i + 2]!)
        if (limitReached(previous, current, w.elapsed, limit.windowMs, limit.max)) {
          const wait = retryAfterMs(previous, current, w.elapsed, limit.windowMs, limit.max)
          if (!refusal || wait > refusal.retryAfterMs) refusal = { limit, retryAfterMs: wait }
        }
      }
      if (refusal) throw new Refused(refusal)
    })
    return undefined
  } catch (err) {
    if (err instanceof Refused) return err.refusal
    throw err
  }
}

/** Records that an attempt begun with beginAttempt succeeded, so it stops counting as a failure. */
export async function attemptSucceeded(store: Store, counters: readonly Counter[], now: number): Promise<void> {
  await store.transaction(async (tx) => {
    for (const c of distinct(counters)) await tx.countEvent(`${slot(c)}:ok`, fixedWindow(now, c.windowMs).start)
  })
}
