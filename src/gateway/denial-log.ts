import { sha256 } from '../core/ids.js'
import type { Logger } from '../core/log.js'
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
 * waiting for one flush, denials are counted in the log line only.
 */
export class DenialLog {
  private pending = new Map<string, { entry: NewAuditEntry; count: number }>()
  private dropped = 0
  private readonly timer: NodeJS.Timeout

  constructor(
    private readonly store: Store,
    private readonly log: Logger,
    private readonly maxKeys = 10_000,
    flushMs = 500,
  ) {
    this.timer = setInterval(() => void this.flush(), flushMs)
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
    if (this.pending.size === 0 && this.dropped === 0) return
    const batch = this.pending
    const dropped = this.dropped
    this.pending = new Map()
    this.dropped = 0
    try {
      await this.store.transaction(async (tx) => {
        for (const [key, { entry, count }] of batch) await tx.countAudit(entry, sha256(key), count)
      })
      if (dropped) this.log.log('warn', 'denied invocations not audited (too many distinct callers and services at once)', { dropped })
    } catch (err) {
      this.log.log('warn', 'could not write denied invocations to the audit log', { err: String(err), entries: batch.size })
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer)
    await this.flush()
  }
}
