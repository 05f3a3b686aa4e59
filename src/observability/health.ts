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
    if (this.failing) this.log.log('info', 'database reachable again; caught up with the change feed', { offlineMs: at - this.lastOk })
    this.failing = false
    this.distrusted = undefined
    this.lastOk = at
  }

  /** The view is not of the database there is now: fail closed at once, until a catch-up (after a reload) succeeds. */
  distrust(reason: string): void {
    this.distrusted = reason
  }

  failed(err: Error): void {
    this.lastError = err.message
    if (!this.failing) {
      this.failing = true
      // A view already distrusted is not served from at all: saying so would mislead whoever reads the log.
      if (this.distrusted !== undefined) this.log.log('warn', 'cannot read the change feed; still failing closed', { err: err.message, why: this.distrusted })
      else this.log.log('warn', 'cannot read the change feed; serving from memory', { err: err.message, failsClosedInMs: this.maxStalenessMs })
    }
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
    return this.distrusted !== undefined || now - this.lastOk > this.maxStalenessMs
  }

  status(now = this.clock()): { ready: boolean; ageMs: number; error?: string } {
    const age = now - this.lastOk
    if (this.distrusted !== undefined) return { ready: false, ageMs: age, error: this.distrusted }
    const ready = age <= this.readyWithinMs
    return ready ? { ready, ageMs: age } : { ready, ageMs: age, error: this.lastError || 'the change feed is behind' }
  }
}
