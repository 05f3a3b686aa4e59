import type { Clock } from '../core/clock.js'
import { conditionOf } from '../core/errors.js'
import type { Logger } from '../core/log.js'
import { FailureStreak } from './failure-streak.js'

/**
 * Whether the database takes writes (the embedded store's outcomes, store/sqlite.ts). A full disk
 * refuses every write with a 503 that tells the caller, but without this the operator heard of
 * it only from callers: one `error` line as writes start being refused, one `info` line when one
 * is taken again (how long, how many refused), nothing on the writes between, and /readyz and
 * /metrics say it while it lasts.
 */
export class RefusedWrites {
  private readonly streak = new FailureStreak()
  private condition: string | undefined

  constructor(
    private readonly log: Logger,
    private readonly clock: Clock,
  ) {}

  /** What a write met: the refusal, or undefined when it was taken. */
  readonly saw = (refused: Error | undefined): void => {
    if (refused) {
      this.condition = conditionOf(refused)
      if (this.streak.failed(this.clock())) this.log.log('error', 'the database refuses writes; every write is answered 503 until it takes them again (not logged again until then)', { condition: this.condition })
      return
    }
    if (this.condition === undefined) return
    this.condition = undefined
    const ended = this.streak.succeeded(this.clock())
    if (ended) this.log.log('info', 'the database takes writes again', { refusedWrites: ended.failedRuns, refusedForMs: ended.failingForMs })
  }

  /** Why writes are refused now (the last refusal's condition); undefined while they are taken. */
  now(): string | undefined {
    return this.condition
  }
}
