import { conditionOf } from '../core/errors.js'
import type { Logger } from '../core/log.js'

/**
 * Whether this process's view of the store is current. Followers report each catch-up and each
 * failure; the gateway keeps serving from memory while the view is younger than `maxStalenessMs`
 * and fails closed after. Transitions are logged once, not on every failed poll.
 */
export class Freshness {
  private lastOk: number
  private failing = false
  private lastError = ''
  /** Why the view cannot be trusted at all, whatever its age (the database changed under it), until the next catch-up. */
  private distrusted: string | undefined
  /** Whether failing closed for staleness (past maxStalenessMs) has been logged since the last catch-up. */
  private saidStale = false

  constructor(
    private readonly clock: () => number,
    private readonly log: Logger,
    readonly maxStalenessMs: number,
    /** Beyond this, /readyz reports not ready (the view may be missing recent changes). */
    readonly readyWithinMs: number,
  ) {
    this.lastOk = clock()
  }

  caughtUp(at: number): void {
    if (this.failing || this.saidStale) this.log.log('info', 'database reachable again; caught up with the change feed', { offlineMs: at - this.lastOk, ...(this.saidStale && { failedClosedForMs: at - this.lastOk - this.maxStalenessMs }) })
    this.failing = false
    this.saidStale = false
    this.lastError = ''
    this.distrusted = undefined
    this.lastOk = at
  }

  /** The view is not of the database there is now: fail closed at once, until a catch-up (after a reload) succeeds. */
  distrust(reason: string): void {
    this.distrusted = reason
  }

  failed(err: Error): void {
    // What is wrong with the database, not what a refused write is told ("nothing was changed").
    this.lastError = conditionOf(err)
    if (!this.failing) {
      this.failing = true
      // A view already distrusted is not served from at all: saying so would mislead whoever reads the log.
      if (this.distrusted !== undefined) this.log.log('warn', 'cannot read the change feed; still failing closed', { err: this.lastError, why: this.distrusted })
      else this.log.log('warn', 'cannot read the change feed; serving from memory', { err: this.lastError, failsClosedInMs: this.maxStalenessMs })
    }
    this.stale()
  }

  /**
   * Whether the view is of the database there is now. While it is not (a restore under way, or
   * settling), this process writes nothing of its own into the database: a row written into
   * tables a restore is filling would collide with the restored ones, or outlive the backup.
   */
  trusted(): boolean {
    return this.distrusted === undefined
  }

  ageMs(now = this.clock()): number {
    return now - this.lastOk
  }

  /** Past the bound: decisions are no longer made from this view. */
  stale(now = this.clock()): boolean {
    if (this.distrusted !== undefined) return true
    const age = now - this.lastOk
    if (age <= this.maxStalenessMs) return false
    // The moment requests start getting 503 for it (the outage's start was logged, with
    // failsClosedInMs; whoever reads the log needs the moment that promise came due too).
    if (!this.saidStale) {
      this.saidStale = true
      this.log.log('warn', 'failing closed: the view of the database is older than --max-staleness; answering 503 until the change feed is read again', { ageMs: age, maxStalenessMs: this.maxStalenessMs, ...(this.lastError && { err: this.lastError }) })
    }
    return true
  }

  status(now = this.clock()): { ready: boolean; ageMs: number; error?: string } {
    const age = now - this.lastOk
    if (this.distrusted !== undefined) return { ready: false, ageMs: age, error: this.distrusted }
    this.stale(now)
    if (age <= this.readyWithinMs) return { ready: true, ageMs: age }
    // Said of the change feed: the database may answer again by now (/readyz pings it beside this).
    const behind = `the change feed was last read ${Math.round(age / 1000)} s ago`
    return { ready: false, ageMs: age, error: this.lastError ? `${behind}; its last read failed: ${this.lastError}` : behind }
  }
}
