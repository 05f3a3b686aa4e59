import type { Change } from '../store/records.js'
import type { Store } from '../store/store.js'

export interface FollowerOptions {
  /** How often to look for changes missed by notifications (all of them on SQLite). */
  pollMs: number
  onChanges: (changes: readonly Change[]) => Promise<void>
  onError: (err: Error) => void
  /** Called after every successful catch-up (readiness reporting). */
  onCaughtUp?: (at: number) => void
  clock: () => number
}

/**
 * Follows the store's change feed: PostgreSQL notifications wake it at once, a periodic poll
 * catches anything missed (and is the whole mechanism on SQLite). Every process, including the
 * writer, applies changes through here, so there is one path by which caches learn of changes.
 */
export class ChangeFollower {
  private lastSeq = 0
  private running: Promise<void> | undefined
  private again = false
  private timer: NodeJS.Timeout | undefined
  lastCaughtUp = 0

  constructor(
    private readonly store: Store,
    private readonly o: FollowerOptions,
  ) {}

  /**
   * How far the changes applied go: it moves only once a batch has been applied in full (the
   * directory, the keys, everyone notified), so what was decided at one position stands until it moves.
   */
  get position(): number {
    return this.lastSeq
  }

  /** Start from the current end of the feed (call before loading the state it follows). */
  async startFrom(): Promise<void> {
    this.lastSeq = await this.store.latestChangeSeq()
    this.lastCaughtUp = this.o.clock()
  }

  async start(): Promise<void> {
    await this.store.listen(() => void this.catchUp().catch(this.o.onError)).catch(this.o.onError)
    const tick = () => {
      this.timer = setTimeout(() => {
        this.catchUp().catch(this.o.onError).finally(tick)
      }, this.o.pollMs)
      this.timer.unref()
    }
    tick()
  }

  /** Applies every change committed so far; concurrent callers share one run, and a call during a run schedules another. */
  catchUp(): Promise<void> {
    if (this.running) {
      this.again = true
      return this.running
    }
    this.running = (async () => {
      try {
        do {
          this.again = false
          for (;;) {
            const batch = await this.store.changesSince(this.lastSeq, 500)
            if (batch.length === 0) break
            await this.o.onChanges(batch)
            this.lastSeq = batch.at(-1)!.seq
            if (batch.length < 500) break
          }
        } while (this.again)
        this.lastCaughtUp = this.o.clock()
        this.o.onCaughtUp?.(this.lastCaughtUp)
      } finally {
        this.running = undefined
      }
    })()
    return this.running
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer)
  }
}
