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
  /**
   * A run (one catch-up) not finished by then is abandoned: the next poll starts a fresh one
   * rather than joining a run stuck on a query that may never be answered. Default 5 s.
   */
  runDeadlineMs?: number
}

/**
 * Follows the store's change feed: PostgreSQL notifications wake it at once, a periodic poll
 * catches anything missed (and is the whole mechanism on SQLite). Every process, including the
 * writer, applies changes through here, so there is one path by which caches learn of changes.
 */
export class ChangeFollower {
  private lastSeq = 0
  private running: Promise<void> | undefined
  /** Which run is current; an abandoned run sees it move and stops without applying anything more. */
  private generation = 0
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
    const generation = ++this.generation
    const deadlineMs = this.o.runDeadlineMs ?? 5_000
    let timer: NodeJS.Timeout | undefined
    const overdue = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        // Abandoned: whatever it still awaits can no longer move the position or apply a batch.
        if (this.generation === generation) this.generation++
        reject(new Error(`reading the change feed took over ${deadlineMs} ms; gave up on that read, the next poll starts a new one`))
      }, deadlineMs)
      timer.unref()
    })
    const run = this.run(generation)
    run.catch(() => undefined) // once abandoned, its failure is nobody's to report
    const bounded = Promise.race([run, overdue]).finally(() => {
      clearTimeout(timer)
      if (this.running === bounded) this.running = undefined
    })
    this.running = bounded
    return bounded
  }

  private async run(generation: number): Promise<void> {
    const current = () => this.generation === generation
    do {
      this.again = false
      for (;;) {
        const batch = await this.store.changesSince(this.lastSeq, 500)
        if (!current() || batch.length === 0) break
        await this.o.onChanges(batch)
        if (!current()) break
        this.lastSeq = batch.at(-1)!.seq
        if (batch.length < 500) break
      }
    } while (this.again && current())
    if (!current()) return
    this.lastCaughtUp = this.o.clock()
    this.o.onCaughtUp?.(this.lastCaughtUp)
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer)
  }
}
