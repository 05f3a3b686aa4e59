/**
 * When a task that runs every few seconds should say it is failing: once as it starts failing,
 * and once as it recovers, with how long and how often it failed; nothing on the runs in
 * between. (Freshness logs the change feed by its transitions the same way.) Without it, the
 * access-grant sweep wrote a warning every 5 s for as long as the database held no Postern
 * tables — a database dropped and created anew, not yet migrated — burying the lines that say
 * why. No I/O: the caller logs what this decides.
 */
export class FailureStreak {
  private since: number | undefined
  private runs = 0

  /** A run failed: true for the first failure of a streak (warn then), false for the rest. */
  failed(now: number): boolean {
    this.runs++
    if (this.since !== undefined) return false
    this.since = now
    return true
  }

  /** A run succeeded: the streak it ends, to say so once, or undefined when nothing was failing. */
  succeeded(now: number): { failedRuns: number; failingForMs: number } | undefined {
    if (this.since === undefined) return undefined
    const ended = { failedRuns: this.runs, failingForMs: Math.max(0, now - this.since) }
    this.since = undefined
    this.runs = 0
    return ended
  }
}
