import { BoundedCache } from '../core/bounded-cache.js'
import { endedSession, type Change } from '../store/records.js'
import type { Store } from '../store/store.js'

/** A sign-in as last read: whether it goes on, and whose it is (a subject's end ends all of theirs). */
interface Known {
  live: boolean
  subjectUid: string | undefined
}

/**
 * Whether the sign-ins that ID tokens name (`sid`, their refresh-token family) go on, as the
 * gateway sees them, so that an ID token dies with its sign-in as an access token does at the API.
 * A sign-in is read from the store once per process and then answered from memory: ending one
 * (revoked, replayed, a new password, an account disabled) is announced on the change feed, which
 * marks it ended here within a second on every process. Only tokens Postern signed get this far,
 * so the sign-ins looked up are Postern's own, never made up by a caller.
 */
export class SignIns {
  private readonly known = new BoundedCache<string, Known>(20_000)
  private readonly inflight = new Map<string, Promise<boolean>>()
  /** Bumped by every change that ends sign-ins: a read begun before one is answered from, never kept. */
  private endings = 0

  constructor(private readonly store: Pick<Store, 'refreshFamilyState'>) {}

  /** Synchronous when known; else the store's answer (rejected when it cannot be read, and then not kept). */
  live(signIn: string): boolean | Promise<boolean> {
    const known = this.known.get(signIn)
    if (known !== undefined) return known.live
    let pending = this.inflight.get(signIn)
    if (!pending) {
      const endings = this.endings
      pending = this.store.refreshFamilyState(signIn).then((state) => {
        const read: Known = state ?? { live: false, subjectUid: undefined }
        if (this.endings === endings) this.known.set(signIn, read)
        return read.live
      })
      this.inflight.set(signIn, pending)
      const done = () => this.inflight.delete(signIn)
      pending.then(done, done)
    }
    return pending
  }

  /**
   * Applies ended sign-ins: one family ends for good; a subject's end drops what is known of that
   * subject's sign-ins alone (so one user's new password costs other users' sign-ins nothing).
   */
  forget(changes: readonly Change[]): void {
    const subjects = new Set<string>()
    for (const c of changes) {
      const ended = c.kind === 'session' ? endedSession(c.key) : undefined
      if (ended && 'refreshFamily' in ended) {
        this.ended()
        this.known.set(ended.refreshFamily, { live: false, subjectUid: undefined })
      } else if (ended && 'subject' in ended) subjects.add(ended.subject)
    }
    // One pass for a batch (a workforce pool's sign-ins end subject by subject).
    if (subjects.size > 0) {
      this.ended()
      this.known.deleteWhere((k) => k.subjectUid !== undefined && subjects.has(k.subjectUid))
    }
  }

  /** Drops all that is known (the database it was read from was replaced). */
  forgetAll(): void {
    this.ended()
    this.known.clear()
  }

  private ended(): void {
    this.endings++
    this.inflight.clear()
  }
}
