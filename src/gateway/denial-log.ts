import type { Clock } from '../core/clock.js'
import { sha256 } from '../core/ids.js'
import type { Logger } from '../core/log.js'
import { FailureStreak } from '../observability/failure-streak.js'
import type { NewAuditEntry } from '../store/records.js'
import type { Store } from '../store/store.js'

/** Denials of one principal on one service are counted together for this long. */
export const DENIAL_WINDOW_MS = 60_000

/**
 * Denied invocations go to the audit log aggregated: one entry per principal, service and minute,
 * with a count (its time and details are the first denial's). They are counted in memory and
 * written off the request path every flush, adding to the minute's entry (shared by every
 * process through its aggregate key), so a flood of denied requests costs a bounded number of
 * rows and writes, and cannot fill the disk or stall requests. Past `maxKeys` distinct entries
 * waiting for one flush, denials are counted in the log line only. A store that refuses the
 * writes (out of reach, or without Postern's tables) is warned of at the first failed flush, and
 * the entries lost meanwhile are counted and said once, at the next flush that succeeds: not a
 * line every 500 ms for as long as it lasts (FailureStreak).
 */
export class DenialLog {
  private pending = new Map<string, { entry: NewAuditEntry; count: number }>()
  private dropped = 0
  private readonly failures = new FailureStreak()
  /** Entries lost to failed flushes since the last one that succeeded. */
  private unaudited = 0
  private readonly timer: NodeJS.Timeout
  private readonly maxKeys: number
  private readonly held: () => boolean

  constructor(
    private readonly store: Store,
    private readonly log: Logger,
    private readonly clock: Clock,
    /** `held`: while true, entries wait in memory (a restore may be filling the database; Freshness.trusted). */
    o: { maxKeys?: number; flushMs?: number; held?: () => boolean } = {},
  ) {
    this.maxKeys = o.maxKeys ?? 10_000
    this.held = o.held ?? (() => false)
    this.timer = setInterval(() => void this.flush(), o.flushMs ?? 500)
    this.timer.unref()
  }

  record(entry: NewAuditEntry): void {
    const window = Math.floor(entry.time / DENIAL_WINDOW_MS) * DENIAL_WINDOW_MS
    const key = `${entry.method}\n${entry.principal}\n${entry.resource}\n${window}`
    const waiting = this.pending.get(key)
    if (waiting) waiting.count++
    else if (this.pending.size >= this.maxKeys) this.dropped++
    else this.pending.set(key, { entry, count: 1 })
  }

  async flush(): Promise<void> {
    if ((this.pending.size === 0 && this.dropped === 0) || this.held()) return
    const batch = this.pending
    const dropped = this.dropped
    this.pending = new Map()
    this.dropped = 0
    try {
      await this.store.transaction(async (tx) => {
        for (const [key, { entry, count }] of batch) await tx.countAudit(entry, sha256(key), count)
      })
      if (dropped) this.log.log('warn', 'denied invocations not audited (too many distinct callers and services at once)', { dropped })
      const ended = this.failures.succeeded(this.clock())
      if (ended) {
        this.log.log('info', 'denied invocations written to the audit log again', { ...ended, entriesNotAudited: this.unaudited })
        this.unaudited = 0
      }
    } catch (err) {
      this.unaudited += batch.size
      if (this.failures.failed(this.clock())) this.log.log('warn', 'could not write denied invocations to the audit log; not warned of again until it recovers', { err: String(err), entries: batch.size })
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer)
    await this.flush()
    if (this.pending.size > 0) this.log.log('warn', 'denied invocations not audited: the database was being restored when this process stopped', { entries: this.pending.size })
  }
}
