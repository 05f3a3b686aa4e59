import type { Logger } from '../core/log.js'
import type { NewAuditEntry } from '../store/records.js'
import type { Store } from '../store/store.js'

/**
 * Denied invocations go to the audit log (issue 4) in batches off the request path, and bounded:
 * a flood of denied requests costs one insert per entry at most every flush, and beyond the bound
 * entries are counted, not stored, so the log cannot be used to fill the disk or stall requests.
 */
export class DenialLog {
  private queue: NewAuditEntry[] = []
  private dropped = 0
  private readonly timer: NodeJS.Timeout

  constructor(
    private readonly store: Store,
    private readonly log: Logger,
    private readonly max = 1_000,
    flushMs = 500,
  ) {
    this.timer = setInterval(() => void this.flush(), flushMs)
    this.timer.unref()
  }

  record(entry: NewAuditEntry): void {
    if (this.queue.length >= this.max) this.dropped++
    else this.queue.push(entry)
  }

  async flush(): Promise<void> {
    if (this.queue.length === 0 && this.dropped === 0) return
    const batch = this.queue
    const dropped = this.dropped
    this.queue = []
    this.dropped = 0
    try {
      await this.store.transaction(async (tx) => {
        for (const e of batch) await tx.appendAudit(e)
      })
      if (dropped) this.log.log('warn', 'denied invocations not audited individually (rate bound)', { dropped })
    } catch (err) {
      this.log.log('warn', 'could not write denied invocations to the audit log', { err: String(err), count: batch.length })
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer)
    await this.flush()
  }
}
