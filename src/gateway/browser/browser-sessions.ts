import { createHmac, timingSafeEqual } from 'node:crypto'
import { randomToken, sha256 } from '../../core/ids.js'
import type { Directory } from '../../directory/directory.js'
import { callerFromClaims } from '../../identity/caller.js'
import { masterSubkey } from '../../identity/master-key.js'
import { findSubject, type Subject } from '../../identity/subjects.js'
import { SESSION_CHANGE, endedSession, type Change, type ServiceSessionRecord } from '../../store/records.js'
import type { Store } from '../../store/store.js'
import type { Caller } from '../authenticate.js'
import { BoundedCache } from '../../core/bounded-cache.js'

export type SessionCheck =
  | { ok: true; caller: Caller; sessionHash: string }
  | { ok: false; reason: 'none' | 'ended' | 'other-service' | 'inactive' | 'unavailable'; description: string }

interface Entry {
  record: ServiceSessionRecord
  subject: Subject
}

/** Longer than any session cookie this gateway sets; anything longer is not looked up. */
const MAX_COOKIE = 100

/** The key that tags session cookies, the same in every process that shares the master key. */
export function sessionCookieKey(master: Buffer): Buffer {
  return masterSubkey(master, 'postern service session cookie v1')
}

/**
 * Browsers' sessions on services' hosts, as the gateway sees them. A cookie names a session by an
 * opaque value; the store keeps its hash and the subject. A session seen before is answered from
 * memory (the store is read once per session, not per request); the account behind it is checked
 * in the directory on every request, so a disabled or deleted account stops at once; and every
 * ended sign-in session arrives on the change feed (`forget`), which drops what was cached of it,
 * so a sign-out anywhere stops the browser here within a second. A cookie carries a tag (an HMAC
 * under a key derived from the master key), so one this Postern did not mint costs no database
 * read: a stream of made-up cookies cannot turn into a stream of queries.
 */
export class BrowserSessions {
  /** By session hash; null: no such session (values are random, so none can appear later). */
  private readonly cache = new BoundedCache<string, Entry | null>(20_000)
  private readonly inflight = new Map<string, Promise<Entry | null>>()

  constructor(
    private readonly store: Store,
    private readonly directory: Directory,
    private readonly key: Buffer,
  ) {}

  /** Who a session cookie speaks for on this service, now: synchronous when the session is cached. */
  check(cookie: string, serviceUid: string, now: number): SessionCheck | Promise<SessionCheck> {
    if (!this.minted(cookie)) return { ok: false, reason: 'none', description: 'The Postern session cookie is not one this Postern set.' }
    return this.checkHash(sha256(cookie), serviceUid, now)
  }

  /** As check, by the session's hash (an open tunnel remembers that, not the cookie). */
  checkHash(hash: string, serviceUid: string, now: number): SessionCheck | Promise<SessionCheck> {
    const cached = this.cache.get(hash)
    if (cached !== undefined) return this.admit(hash, cached, serviceUid, now)
    return this.load(hash).then(
      (entry) => this.admit(hash, entry, serviceUid, now),
      () => ({ ok: false, reason: 'unavailable', description: 'Postern cannot read its database to check this browser session; try again shortly.' }) as const,
    )
  }

  /** Starts a session for a redeemed sign-in; undefined when the sign-in session has ended meanwhile. */
  async start(o: { signInSessionHash: string; subjectUid: string; serviceUid: string; now: number }): Promise<{ cookie: string; expireTime: number } | undefined> {
    const parent = await this.store.getSession(o.signInSessionHash)
    if (!parent || parent.subjectUid !== o.subjectUid || parent.expireTime <= o.now) return undefined
    const secret = randomToken(32)
    const cookie = `${secret}.${this.tag(secret)}`
    // As long as the sign-in it comes from, no longer (a federated sign-in's is its pool's session).
    const record: ServiceSessionRecord = { sessionHash: sha256(cookie), signInSessionHash: parent.sessionHash, subjectUid: o.subjectUid, serviceUid: o.serviceUid, createTime: o.now, expireTime: parent.expireTime }
    if (!(await this.store.insertServiceSession(record, o.now))) return undefined
    return { cookie, expireTime: record.expireTime }
  }

  /** Ends the sign-in behind a session cookie, and with it every session made from that sign-in (sign-out). */
  async end(cookie: string): Promise<void> {
    if (!this.minted(cookie)) return
    const record = await this.store.getServiceSession(sha256(cookie))
    if (!record) return
    await this.store.deleteSession(record.signInSessionHash)
    // Here at once; other processes when the change feed brings the deletion.
    this.forget([{ seq: 0, kind: 'session', key: SESSION_CHANGE.signIn(record.signInSessionHash) }])
  }

  /** Drops every cached session (the database they were read from was replaced). */
  forgetAll(): void {
    this.cache.deleteWhere(() => true)
  }

  /** Drops whatever the ended sessions in these changes were cached as. */
  forget(changes: readonly Change[]): void {
    const signIns = new Set<string>()
    const subjects = new Set<string>()
    for (const c of changes) {
      const ended = c.kind === 'session' ? endedSession(c.key) : undefined
      if (ended && 'signIn' in ended) signIns.add(ended.signIn)
      else if (ended && 'subject' in ended) subjects.add(ended.subject)
    }
    if (signIns.size || subjects.size) this.cache.deleteWhere((e) => e !== null && (signIns.has(e.record.signInSessionHash) || subjects.has(e.record.subjectUid)))
  }

  private tag(secret: string): string {
    return createHmac('sha256', this.key).update(secret).digest().subarray(0, 16).toString('base64url')
  }

  /** Whether a cookie value is `secret.tag` with this Postern's tag (compared in constant time). */
  private minted(cookie: string): boolean {
    const dot = cookie.indexOf('.')
    if (cookie.length > MAX_COOKIE || dot < 1) return false
    const sent = Buffer.from(cookie.slice(dot + 1))
    const expected = Buffer.from(this.tag(cookie.slice(0, dot)))
    return sent.length === expected.length && timingSafeEqual(sent, expected)
  }

  private load(hash: string): Promise<Entry | null> {
    let pending = this.inflight.get(hash)
    if (pending) return pending
    pending = (async () => {
      const record = await this.store.getServiceSession(hash)
      const subject = record ? await findSubject(this.store, record.subjectUid) : undefined
      const entry = record && subject ? { record, subject } : null
      this.cache.set(hash, entry)
      return entry
    })()
    this.inflight.set(hash, pending)
    const done = () => this.inflight.delete(hash)
    pending.then(done, done)
    return pending
  }

  private admit(hash: string, entry: Entry | null, serviceUid: string, now: number): SessionCheck {
    if (!entry) return { ok: false, reason: 'none', description: 'This browser has no Postern session for this service.' }
    if (entry.record.expireTime <= now) return { ok: false, reason: 'ended', description: 'Your Postern session has ended.' }
    // A cookie is set host-only, so another service's session here means it was carried over by hand.
    if (entry.record.serviceUid !== serviceUid) return { ok: false, reason: 'other-service', description: 'This session cookie belongs to another service.' }
    const caller = this.callerOf(entry.subject)
    return 'description' in caller ? { ok: false, reason: 'inactive', description: caller.description } : { ok: true, caller, sessionHash: hash }
  }

  /** The caller a session's subject is now: users and service accounts from the directory, federated subjects with their pool and provider. */
  private callerOf(subject: Subject): Caller | { description: string } {
    // As for their tokens: a federated subject's identity-provider email is shown, never asserted as `email`.
    const claims = subject.kind === 'federated' && subject.federation ? { sub: subject.uid, federation: subject.federation } : { sub: subject.uid }
    const checked = callerFromClaims(claims, this.directory, 'Your account')
    return checked.ok ? checked.caller : { description: checked.description }
  }
}
