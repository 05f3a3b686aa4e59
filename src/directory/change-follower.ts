import type { Change, FeedMark } from '../store/records.js'
import type { Store } from '../store/store.js'

/**
 * How long the database must stay unchanged, after a reload caused by its replacement, before
 * the view loaded from it is trusted. A restore committed table by table (pg_restore without
 * --single-transaction, a SQL dump run statement by statement) can be read half done: the reload
 * may have found the services table not refilled yet, and the rows copied in afterwards come with
 * the restore's own change numbers, so the change feed never announces them. Until every view
 * table has kept its rows for this long (ViewMark), the process keeps failing closed and reloads
 * again at any difference. What it must outlast is the pause between two statements of a restore
 * that is still running: a round trip and a small statement, milliseconds, or one table's COPY —
 * however long that takes, PostgreSQL shows it by the primary keys pg_dump adds only after all
 * the data (ViewMark.incomplete), which are waited for as well. 3 s is many times the first, and
 * a dozen polls at the default 250 ms; it is also what a replacement adds to the gateway's 503s.
 */
export const REWRITE_SETTLE_MS = 3_000

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
   * rather than joining a run stuck on a query that may never be answered. Default 5 s. The time
   * a reload takes does not count (see run()).
   */
  runDeadlineMs?: number
  /**
   * The feed was rewritten under this process (see rewritten()): told why (once for each reason)
   * before the reload, so the process stops deciding from a view of a database that is no longer there.
   */
  onRewritten: (reason: string) => void
  /**
   * Reloads everything the changes would have kept current, from the store as it is now; false
   * when the store holds nothing this process can serve from (it has said why): the view stays
   * untrusted, and the next run tries again.
   */
  reload: () => Promise<void | false>
  /**
   * After a reload caused by a rewrite: told why the view is not trusted yet (the database has
   * not been quiet for settleMs since, or is still being restored), each time that starts or changes.
   * Until the settle period ends no catch-up is reported (onCaughtUp), so the view stays distrusted.
   */
  onSettling: (why: string) => void
  /** How long the database must stay unchanged after such a reload (default REWRITE_SETTLE_MS). */
  settleMs?: number
  /** A database restored from an older Postern's backup was migrated (see upgrading()), from this version. */
  onMigrated: (from: number) => void
}

/** A run's deadline, paused while the run does what may take longer (a reload) and started afresh after. */
interface Deadline {
  pause(): void
  restart(): void
}

/**
 * Follows the store's change feed: PostgreSQL notifications wake it at once, a periodic poll
 * catches anything missed (and is the whole mechanism on SQLite). Every process, including the
 * writer, applies changes through here, so there is one path by which caches learn of changes.
 */
export class ChangeFollower {
  private lastSeq = 0
  /** Which database the view was loaded from, and the change applied last as the feed had it. */
  private installation = ''
  private anchor: Change | undefined
  /** Why the view is not of the database there is now, told once and standing until a reload succeeds. */
  private unresolved: string | undefined
  /** Started while a restore was under way (startFrom): whatever the feed says until the first reload is no news. */
  private fromStart = false
  /**
   * After a reload caused by a rewrite, until the database has been quiet for settleMs: what its
   * view tables held when the reload began, since when, and why it is not over (told once per why).
   */
  private settling: { digest: string; since: number; told: string } | undefined
  /** An older Postern's installation found in place of the view's: its schema state as read, and since when it has read so. */
  private older: { state: string; since: number } | undefined
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

  /**
   * Start from the current end of the feed (call before loading the state it follows). With
   * `restoring` (why the database looks like a restore still under way, restore-under-way.ts),
   * nothing is read yet: the process has loaded nothing, and its first runs wait for the restore
   * as after a replacement (an installation id, a reload, the settle period), saying nothing more
   * until the reload: the caller has said why already.
   */
  async startFrom(restoring?: string): Promise<void> {
    if (restoring === undefined) this.startAt(await this.store.feedMark())
    else this.startAt({ installation: '', latest: 0 })
    this.unresolved = restoring
    this.fromStart = restoring !== undefined
    this.lastCaughtUp = this.o.clock()
  }

  private startAt(mark: FeedMark): void {
    this.lastSeq = mark.latest
    this.installation = mark.installation
    this.anchor = mark.at
  }

  /**
   * Why the feed is not the one this process has been following, or undefined when it is. Change
   * numbers only grow within one database, so a feed whose end is behind what was applied, or
   * whose change at that position is another, was restored from a backup or replaced; following
   * it from the old position would skip every new change until the numbers pass it again.
   */
  private rewritten(mark: FeedMark): string | undefined {
    if (mark.replaced) return mark.replaced
    if (mark.noSchema) return `the database has no Postern schema (its tables are missing): dropped and created anew and not migrated yet, or another database in its place; waiting for Postern's tables and data to be back (postern serve creates them; or restore a backup)`
    if (mark.installation !== this.installation) return `the database is not the one this process loaded (installation ${mark.installation || 'none'}, was ${this.installation || 'none'}): dropped and created anew, or another one in its place`
    if (mark.latest < this.lastSeq) return `the change feed went backwards (its highest change is ${mark.latest}, this process had applied up to ${this.lastSeq}): restored from a backup?`
    const a = this.anchor
    if (a && (!mark.at || mark.at.kind !== a.kind || mark.at.key !== a.key || mark.at.time !== a.time)) return `change ${a.seq}, the last this process applied, is no longer in the change feed as it was: restored from a backup?`
    return undefined
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

  /**
   * Checks now, not at the next poll, that the database is still the one the view is of, and
   * catches up at once when it may not be (the catch-up reads again and tells why, onRewritten).
   * For whoever is about to write into it (main.ts's maintenance): a row written into tables a
   * restore has just emptied would collide with the restored ones. It applies no change itself,
   * so changes still arrive as they would (notifications, polls). A run moving the position
   * meanwhile can make the mark look rewritten; that costs a catch-up, which finds it is not.
   */
  async verify(): Promise<void> {
    if (this.rewritten(await this.store.feedMark(this.lastSeq))) await this.catchUp()
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
    let expire: (err: Error) => void = () => undefined
    const overdue = new Promise<never>((_, reject) => (expire = reject))
    const deadline: Deadline = {
      pause: () => clearTimeout(timer),
      restart: () => {
        clearTimeout(timer)
        timer = setTimeout(() => {
          // Abandoned: whatever it still awaits can no longer move the position or apply a batch.
          if (this.generation === generation) this.generation++
          expire(new Error(`reading the change feed took over ${deadlineMs} ms; gave up on that read, the next poll starts a new one`))
        }, deadlineMs)
        timer.unref()
      },
    }
    deadline.restart()
    const run = this.run(generation, deadline)
    run.catch(() => undefined) // once abandoned, its failure is nobody's to report
    const bounded = Promise.race([run, overdue]).finally(() => {
      clearTimeout(timer)
      if (this.running === bounded) this.running = undefined
    })
    this.running = bounded
    return bounded
  }

  private async run(generation: number, deadline: Deadline): Promise<void> {
    const current = () => this.generation === generation
    const found = await this.store.feedMark(this.lastSeq)
    if (!current()) return
    // Once found, a reason stands until a reload clears it: a database that vanished and came
    // back as it was may have been anything in between.
    const reason = this.rewritten(found) ?? this.unresolved
    if (reason) {
      if (!this.fromStart) {
        if (reason !== this.unresolved) this.o.onRewritten(reason)
        this.unresolved = reason
      }
      const older = await this.upgrading(deadline, current)
      if (older === 'wait') return
      // Where to follow from is read before the state: a change made meanwhile is applied twice, harmlessly, rather than missed.
      const mark = found.installation || older === 'migrated' ? await this.store.feedMark() : found
      if (!current()) return
      // No installation id (no Postern tables yet, or a restore half done) is nothing to reload
      // from: the view stays distrusted, failing closed, until there is one.
      if (!mark.installation) return
      if (!(await this.reloadFrom(mark, deadline, current))) return
      this.unresolved = undefined
      this.fromStart = false
    }
    do {
      this.again = false
      for (;;) {
        const batch = await this.store.changesSince(this.lastSeq, 500)
        if (!current() || batch.length === 0) break
        await this.o.onChanges(batch)
        if (!current()) break
        this.lastSeq = batch.at(-1)!.seq
        this.anchor = batch.at(-1)
        if (batch.length < 500) break
      }
    } while (this.again && current())
    if (!current()) return
    if (this.settling && !(await this.settled(deadline, current))) return
    this.lastCaughtUp = this.o.clock()
    this.o.onCaughtUp?.(this.lastCaughtUp)
  }

  /**
   * Reloads the whole view and follows the feed from `mark` (read before the state, so a change
   * made meanwhile is applied twice, harmlessly, rather than missed); false when the run was
   * abandoned meanwhile. The view tables' mark is read before the reload too: a row copied in
   * while it reads makes the next comparison differ, and costs one more reload, never a miss.
   */
  private async reloadFrom(mark: FeedMark, deadline: Deadline, current: () => boolean): Promise<boolean> {
    const before = await this.store.viewMark()
    if (!current()) return false
    // The deadline does not apply to a reload: it reads everything, so on a large installation
    // it takes longer than any catch-up, and abandoned at every deadline it would start again
    // at every poll, for ever. It cannot hang: every query it makes is bounded by the driver
    // (postgres.ts), and the view stays distrusted, failing closed, until it is done.
    deadline.pause()
    const reloaded = await this.o.reload()
    if (!current() || reloaded === false) return false
    deadline.restart()
    this.startAt(mark)
    this.settling = { digest: before.digest, since: this.o.clock(), told: '' }
    return true
  }

  /**
   * Whether this run stops for an older Postern's installation, restored whole in place of the
   * view's: reloading from it would read tables and columns it does not have yet, and it would
   * wait for ever for an installation id (migration 11) nobody writes. So it is migrated here, as
   * a start would migrate it, once its schema has read the same for the settle period (a restore
   * may still be going); the run then goes on to reload from it. 'wait': the run stops here.
   */
  private async upgrading(deadline: Deadline, current: () => boolean): Promise<'wait' | 'migrated' | undefined> {
    const older = await this.store.olderInstallation()
    if (!current()) return 'wait'
    if (older === undefined) {
      this.older = undefined
      return undefined
    }
    const settleMs = this.o.settleMs ?? REWRITE_SETTLE_MS
    if (this.older?.state !== older.state) {
      this.older = { state: older.state, since: this.o.clock() }
      this.o.onSettling(`the database holds an installation of schema version ${older.version}, an older Postern's; migrating it once it has stayed so for ${settleMs / 1000} s (a restore may still be writing)`)
      return 'wait'
    }
    if (this.o.clock() - this.older.since < settleMs) return 'wait'
    // As a reload, a migration may take longer than a catch-up (ALTER TABLE on a large table).
    deadline.pause()
    await this.store.migrate()
    this.older = undefined
    if (!current()) return 'wait'
    deadline.restart()
    this.o.onMigrated(older.version)
    return 'migrated'
  }

  /** Says why the view is not trusted yet, when that is new (`why` is what is told, `kind` what tells one why from another). */
  private settle(why: string, kind = why): void {
    if (!this.settling || this.settling.told === kind) return
    this.settling.told = kind
    this.o.onSettling(why)
  }

  /**
   * Whether the database has stayed as the last reload found it for the settle period; reloads
   * again when it has not. Staying fail-closed meanwhile is the point: a process that has just
   * reloaded after a replacement cannot know the restore is finished, and a view missing a
   * table's rows would be served, and believed, until each row changed again. A write through
   * Postern to a view table meanwhile also starts the period again: it cannot be told from a
   * restore's rows, and reloading for it is harmless.
   */
  private async settled(deadline: Deadline, current: () => boolean): Promise<boolean> {
    const settling = this.settling!
    const now = await this.store.viewMark()
    if (!current()) return false
    if (now.incomplete.length > 0) {
      // Missing tables cannot be reloaded from: wait for them, then reload (the digest will differ).
      settling.digest = now.digest
      settling.since = this.o.clock()
      // Told once, not at each key a restore adds: the list shrinks table by table.
      this.settle(`tables are missing or have no primary key yet (a restore still copying data in?): ${now.incomplete.join(', ')}`, 'incomplete')
      return false
    }
    if (now.restoring !== undefined) {
      // Whole tables, but in a state Postern never leaves a database in (a restore paused between
      // tables): waiting, then reloading (no whole database has an empty digest).
      settling.digest = ''
      settling.since = this.o.clock()
      this.settle(`the database is not whole yet: ${now.restoring}`, 'restoring')
      return false
    }
    if (now.digest !== settling.digest) {
      // Rewritten once more (another installation, the feed gone backwards): the next run says so and reloads.
      const found = await this.store.feedMark(this.lastSeq)
      if (!current() || this.rewritten(found)) return false
      const mark = await this.store.feedMark()
      if (!current()) return false
      if (!(await this.reloadFrom(mark, deadline, current))) return false
      this.settle('the database changed again after the reload (rows copied in by a restore still running?); reloaded again')
      return false
    }
    const settleMs = this.o.settleMs ?? REWRITE_SETTLE_MS
    if (this.o.clock() - settling.since < settleMs) {
      this.settle(`reloaded; waiting until the database has stayed unchanged for ${settleMs / 1000} s (a restore may still be writing)`)
      return false
    }
    this.settling = undefined
    return true
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer)
  }
}
