import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sha256 } from '../../core/ids.js'
import { Directory } from '../../directory/directory.js'
import { openStore } from '../../store/open-store.js'
import { SESSION_CHANGE } from '../../store/records.js'
import type { Store } from '../../store/store.js'
import { BrowserSessions, sessionCookieKey } from './browser-sessions.js'

/**
 * The gateway's view of browser sessions over a real SQLite store, counting the store's session
 * reads: a session is read once and then answered from memory, until the change feed says its
 * sign-in ended; a cookie this Postern did not mint is never looked up at all.
 */
const NOW = 1_700_000_000_000
let dir: string
let store: Store
let reads = 0
let sessions: BrowserSessions
const uid = 'uid-ann'

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'postern-sessions-'))
  const real = await openStore({ dataDir: dir, clock: () => NOW, onError: () => {} })
  // The real store, with its session reads counted.
  store = new Proxy(real, {
    get(target, name, receiver) {
      if (name === 'getServiceSession') return (hash: string) => (reads++, target.getServiceSession(hash))
      return Reflect.get(target, name, receiver) as unknown
    },
  })
  await store.insertUser({ email: 'ann@example.com', uid, displayName: 'Ann', passwordHash: null, disabled: false, createTime: NOW, updateTime: NOW })
  const directory = new Directory(store)
  await directory.loadAll()
  sessions = new BrowserSessions(store, directory, sessionCookieKey(Buffer.alloc(32, 7)))
})
afterAll(async () => {
  await store?.close()
  rmSync(dir, { recursive: true, force: true })
})

async function started(serviceUid = 'svc-1') {
  const signIn = { sessionHash: sha256(`sign-in-${Math.random()}`), subjectUid: uid, csrfToken: 'c', createTime: NOW, expireTime: NOW + 3_600_000 }
  await store.insertSession(signIn)
  const s = await sessions.start({ signInSessionHash: signIn.sessionHash, subjectUid: uid, serviceUid, now: NOW })
  return { cookie: s!.cookie, signIn }
}

describe('BrowserSessions', () => {
  it('a cookie it did not mint is refused without a store read, however it looks', async () => {
    const { cookie } = await started()
    const before = reads
    for (const forged of ['x', 'a.b', `${cookie.split('.')[0]}.AAAAAAAAAAAAAAAAAAAAAA`, `${cookie}x`, `other.${cookie.split('.')[1]}`, 'a'.repeat(5000)]) {
      const r = await sessions.check(forged, 'svc-1', NOW)
      expect(r.ok, forged).toBe(false)
    }
    expect(reads).toBe(before)
  })

  it('reads a session once, answers from memory after, and again after the change feed ends it', async () => {
    const { cookie, signIn } = await started()
    const before = reads
    expect((await sessions.check(cookie, 'svc-1', NOW)).ok).toBe(true)
    expect(sessions.check(cookie, 'svc-1', NOW)).toMatchObject({ ok: true, caller: { member: 'user:ann@example.com' } })
    expect(reads).toBe(before + 1)
    await store.deleteSession(signIn.sessionHash)
    // Until the change arrives this process still answers from memory; then it reads, and refuses.
    expect(sessions.check(cookie, 'svc-1', NOW)).toMatchObject({ ok: true })
    sessions.forget([{ seq: 1, kind: 'session', key: SESSION_CHANGE.signIn(signIn.sessionHash) }])
    expect(await sessions.check(cookie, 'svc-1', NOW)).toMatchObject({ ok: false, reason: 'none' })
    expect(reads).toBe(before + 2)
  })

  it('refuses a session on another service, and after it expires', async () => {
    const { cookie } = await started('svc-2')
    expect(await sessions.check(cookie, 'svc-1', NOW)).toMatchObject({ ok: false, reason: 'other-service' })
    expect(await sessions.check(cookie, 'svc-2', NOW + 3_600_000)).toMatchObject({ ok: false, reason: 'ended' })
  })

  it('forgets every session of a subject whose sessions all ended', async () => {
    const { cookie } = await started()
    expect((await sessions.check(cookie, 'svc-1', NOW)).ok).toBe(true)
    await store.deleteSessionsOf(uid)
    sessions.forget([{ seq: 2, kind: 'session', key: SESSION_CHANGE.subject(uid) }])
    expect(await sessions.check(cookie, 'svc-1', NOW)).toMatchObject({ ok: false })
  })
})
