import { afterEach, describe, expect, it } from 'vitest'
import type { Store } from '../../../src/store/store.js'
import type { Place } from '../backends.js'
import { aDeviceCode, anAuthCode, aRefreshToken, aServiceSession, aServiceSignInCode, aSession, aSigningKey, unique } from '../fixtures.js'
import type { ContractContext } from './context.js'

const HOUR = 3_600_000
const DAY = 24 * HOUR

export function oauthContract(c: ContractContext): void {
  // Signing keys and purging are global to a database, so those tests get one of their own.
  let places: Place[] = []
  const freshStore = async (clock?: () => number): Promise<Store> => {
    const place = await c.backend.fresh(clock ? { clock } : {})
    places.push(place)
    return place.open()
  }
  afterEach(async () => {
    await Promise.all(places.map((p) => p.cleanup()))
    places = []
  })

  describe('signing keys', () => {
    it('insertSigningKey refuses when a key newer than the bound exists', async () => {
      const store = await freshStore()
      const k1 = aSigningKey({ createTime: 1000, activateTime: 1500, expireTime: 9000 })
      expect(await store.insertSigningKey(k1, 0)).toBe(true)
      const k2 = aSigningKey({ createTime: 2000, activateTime: 1200, expireTime: 9500 })
      expect(await store.insertSigningKey(k2, 999)).toBe(false)
      expect(await store.listSigningKeys()).toEqual([k1])
      // Created exactly at the bound is not "after" it.
      expect(await store.insertSigningKey(k2, 1000)).toBe(true)
      expect(await store.listSigningKeys()).toEqual([k2, k1])
    })

    it('deleteSigningKeysExpiredBefore deletes strictly older keys and counts them', async () => {
      const store = await freshStore()
      const keys = [100, 200, 300].map((t) => aSigningKey({ createTime: t, activateTime: t, expireTime: t * 10 }))
      for (const k of keys) await store.insertSigningKey(k, k.createTime - 1)
      expect(await store.deleteSigningKeysExpiredBefore(2000)).toBe(1)
      expect(await store.listSigningKeys()).toEqual(keys.slice(1))
      expect(await store.deleteSigningKeysExpiredBefore(2000)).toBe(0)
      expect(await store.deleteSigningKeysExpiredBefore(10_000)).toBe(2)
      expect(await store.listSigningKeys()).toEqual([])
    })
  })

  describe('refresh tokens', () => {
    it('round-trips; markRefreshTokenUsed succeeds once, then reports the replay', async () => {
      const store = c.store()
      const t = aRefreshToken()
      await store.insertRefreshToken(t)
      expect(await store.getRefreshToken(t.tokenHash)).toEqual(t)
      expect(await store.markRefreshTokenUsed(t.tokenHash, 5555)).toBe(true)
      expect(await store.markRefreshTokenUsed(t.tokenHash, 6666)).toBe(false)
      expect(await store.getRefreshToken(t.tokenHash)).toEqual({ ...t, usedTime: 5555 })
      expect(await store.markRefreshTokenUsed('no-such-token', 1)).toBe(false)
      expect(await store.getRefreshToken('no-such-token')).toBeUndefined()
    })

    it('revokeRefreshFamily revokes the family and nothing else, counting what it revoked, and announces it once', async () => {
      const store = c.store()
      const familyId = unique('fam-')
      const family = [aRefreshToken({ familyId }), aRefreshToken({ familyId, usedTime: 10 }), aRefreshToken({ familyId })]
      const stranger = aRefreshToken()
      for (const t of [...family, stranger]) await store.insertRefreshToken(t)
      const before = (await store.feedMark()).latest
      expect(await store.revokeRefreshFamily(familyId)).toBe(3)
      expect(await store.revokeRefreshFamily(familyId)).toBe(0)
      // The gateway learns of it from the feed (an ID token names its family as `sid`).
      expect(await announced(store, before, `family:${familyId}`)).toEqual([`family:${familyId}`])
      for (const t of family) expect(await store.getRefreshToken(t.tokenHash)).toEqual({ ...t, revoked: true })
      expect(await store.getRefreshToken(stranger.tokenHash)).toEqual(stranger)
    })

    it('refreshFamilyLive: while any token of the family is unrevoked, used or not; never for a family it does not hold', async () => {
      const store = c.store()
      const familyId = unique('fam-')
      await store.insertRefreshToken(aRefreshToken({ familyId, usedTime: 10 }))
      await store.insertRefreshToken(aRefreshToken({ familyId }))
      const stranger = aRefreshToken()
      await store.insertRefreshToken(stranger)
      expect(await store.refreshFamilyLive(familyId)).toBe(true)
      await store.revokeRefreshFamily(familyId)
      expect(await store.refreshFamilyLive(familyId)).toBe(false)
      expect(await store.refreshFamilyLive(stranger.familyId)).toBe(true)
      await store.revokeRefreshTokensOf(stranger.subjectUid)
      expect(await store.refreshFamilyLive(stranger.familyId)).toBe(false)
      expect(await store.refreshFamilyLive(unique('fam-'))).toBe(false)
    })

    it('refreshFamilyState: live as refreshFamilyLive says, and whose family it is', async () => {
      const store = c.store()
      const familyId = unique('fam-')
      const t = aRefreshToken({ familyId, usedTime: 10 })
      await store.insertRefreshToken(t)
      await store.insertRefreshToken(aRefreshToken({ familyId, subjectUid: t.subjectUid }))
      expect(await store.refreshFamilyState(familyId)).toEqual({ live: true, subjectUid: t.subjectUid })
      await store.revokeRefreshFamily(familyId)
      expect(await store.refreshFamilyState(familyId)).toEqual({ live: false, subjectUid: t.subjectUid })
      expect(await store.refreshFamilyState(unique('fam-'))).toBeUndefined()
    })

    it('revokeRefreshTokensOf revokes every token of the subject', async () => {
      const store = c.store()
      const subjectUid = unique('uid-')
      const mine = [aRefreshToken({ subjectUid }), aRefreshToken({ subjectUid })]
      const theirs = aRefreshToken()
      for (const t of [...mine, theirs]) await store.insertRefreshToken(t)
      const before = (await store.feedMark()).latest
      expect(await store.revokeRefreshTokensOf(subjectUid)).toBe(2)
      expect(await store.revokeRefreshTokensOf(subjectUid)).toBe(0)
      expect(await announced(store, before, `subject:${subjectUid}`)).toEqual([`subject:${subjectUid}`])
      for (const t of mine) expect((await store.getRefreshToken(t.tokenHash))?.revoked).toBe(true)
      expect((await store.getRefreshToken(theirs.tokenHash))?.revoked).toBe(false)
    })
  })

  describe('authorization codes', () => {
    it('round-trips; consumeAuthCode succeeds once and records the family', async () => {
      const store = c.store()
      const code = anAuthCode()
      const withNonce = anAuthCode({ nonce: 'n-0S6_WzA2Mj' })
      await store.insertAuthCode(code)
      await store.insertAuthCode(withNonce)
      expect(await store.getAuthCode(code.codeHash)).toEqual(code)
      expect(await store.getAuthCode(withNonce.codeHash)).toEqual(withNonce)
      expect(await store.consumeAuthCode(code.codeHash, 777, 'fam-1')).toBe(true)
      expect(await store.consumeAuthCode(code.codeHash, 888, 'fam-2')).toBe(false)
      expect(await store.getAuthCode(code.codeHash)).toEqual({ ...code, usedTime: 777, familyId: 'fam-1' })
      expect(await store.consumeAuthCode('no-such-code', 1, 'f')).toBe(false)
    })
  })

  describe('device codes', () => {
    it('finds a code by hash and by user code; user codes are unique', async () => {
      const store = c.store()
      const d = aDeviceCode()
      expect(await store.insertDeviceCode(d)).toBe(true)
      expect(await store.insertDeviceCode(aDeviceCode({ userCode: d.userCode }))).toBe(false)
      expect(await store.getDeviceCode(d.deviceCodeHash)).toEqual(d)
      expect(await store.getDeviceCodeByUserCode(d.userCode)).toEqual(d)
      expect(await store.getDeviceCodeByUserCode('NOPE-NOPE')).toBeUndefined()
    })

    it('updates polling, approval and consumption', async () => {
      const store = c.store()
      const d = aDeviceCode()
      await store.insertDeviceCode(d)
      const polled = { ...d, intervalSeconds: 10, lastPollTime: 123 }
      await store.updateDeviceCode(polled)
      expect(await store.getDeviceCode(d.deviceCodeHash)).toEqual(polled)
      const approved = { ...polled, subjectUid: 'uid-ann', authTime: 456, consumed: true }
      await store.updateDeviceCode(approved)
      expect(await store.getDeviceCodeByUserCode(d.userCode)).toEqual(approved)
      const denied = aDeviceCode()
      await store.insertDeviceCode(denied)
      await store.updateDeviceCode({ ...denied, denied: true })
      expect(await store.getDeviceCode(denied.deviceCodeHash)).toEqual({ ...denied, denied: true })
    })
  })

  describe('sessions', () => {
    it('inserts, reads, deletes one, deletes all of a subject', async () => {
      const store = c.store()
      const subjectUid = unique('uid-')
      const [s1, s2, other] = [aSession({ subjectUid }), aSession({ subjectUid }), aSession()]
      for (const s of [s1, s2, other]) await store.insertSession(s)
      expect(await store.getSession(s1.sessionHash)).toEqual(s1)
      await store.deleteSession(s1.sessionHash)
      expect(await store.getSession(s1.sessionHash)).toBeUndefined()
      expect(await store.getSession(s2.sessionHash)).toEqual(s2)
      await store.insertSession(s1)
      await store.deleteSessionsOf(subjectUid)
      expect(await store.getSession(s1.sessionHash)).toBeUndefined()
      expect(await store.getSession(s2.sessionHash)).toBeUndefined()
      expect(await store.getSession(other.sessionHash)).toEqual(other)
    })

    it('ending sessions is announced on the change feed, one change per call', async () => {
      const store = await freshStore()
      const s = aSession()
      await store.insertSession(s)
      await store.deleteSession(s.sessionHash)
      await store.deleteSessionsOf('uid-ann')
      expect((await store.changesSince(0, 10)).map(({ kind, key }) => ({ kind, key }))).toEqual([
        { kind: 'session', key: `sign-in:${s.sessionHash}` },
        { kind: 'session', key: 'subject:uid-ann' },
      ])
    })
  })

  describe('service sessions and their sign-in codes', () => {
    const NOW = 1_700_000_000_000
    const live = (o = {}) => aSession({ createTime: NOW - 10, expireTime: NOW + HOUR, ...o })

    it('a code round-trips and is redeemed once, before it expires', async () => {
      const store = c.store()
      const code = aServiceSignInCode({ expireTime: NOW + 60_000 })
      await store.insertServiceSignInCode(code)
      expect(await store.redeemServiceSignInCode(code.codeHash, NOW)).toEqual({ ...code, usedTime: NOW })
      expect(await store.redeemServiceSignInCode(code.codeHash, NOW + 1)).toBeUndefined()
      const late = aServiceSignInCode({ expireTime: NOW })
      await store.insertServiceSignInCode(late)
      expect(await store.redeemServiceSignInCode(late.codeHash, NOW)).toBeUndefined()
      expect(await store.redeemServiceSignInCode('no-such-code', NOW)).toBeUndefined()
    })

    it('of many concurrent redemptions of one code exactly one succeeds', async () => {
      const store = c.store()
      const code = aServiceSignInCode({ expireTime: NOW + 60_000 })
      await store.insertServiceSignInCode(code)
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => store.redeemServiceSignInCode(code.codeHash, NOW + i)))
      expect(results.filter(Boolean)).toHaveLength(1)
    })

    it('a service session is made only from a live sign-in session of the same subject', async () => {
      const store = c.store()
      const parent = live()
      await store.insertSession(parent)
      const s = aServiceSession(parent)
      expect(await store.insertServiceSession(s, NOW)).toBe(true)
      expect(await store.getServiceSession(s.sessionHash)).toEqual(s)
      expect(await store.insertServiceSession(aServiceSession(parent, { subjectUid: 'someone-else' }), NOW)).toBe(false)
      expect(await store.insertServiceSession(aServiceSession(parent), parent.expireTime)).toBe(false)
      expect(await store.insertServiceSession(aServiceSession(live()), NOW)).toBe(false)
      expect(await store.getServiceSession('no-such-session')).toBeUndefined()
    })

    it('ending a sign-in session ends the service sessions made from it, and no others', async () => {
      const store = c.store()
      const [parent, other] = [live(), live()]
      for (const p of [parent, other]) await store.insertSession(p)
      const [a, b, c2] = [aServiceSession(parent), aServiceSession(parent), aServiceSession(other)]
      for (const s of [a, b, c2]) expect(await store.insertServiceSession(s, NOW)).toBe(true)
      await store.deleteSession(parent.sessionHash)
      expect(await store.getServiceSession(a.sessionHash)).toBeUndefined()
      expect(await store.getServiceSession(b.sessionHash)).toBeUndefined()
      expect(await store.getServiceSession(c2.sessionHash)).toEqual(c2)
    })

    it('ending every session of a subject ends its service sessions', async () => {
      const store = c.store()
      const subjectUid = unique('uid-')
      const [p1, p2, other] = [live({ subjectUid }), live({ subjectUid }), live()]
      for (const p of [p1, p2, other]) await store.insertSession(p)
      const [a, b, c2] = [aServiceSession(p1), aServiceSession(p2), aServiceSession(other)]
      for (const s of [a, b, c2]) await store.insertServiceSession(s, NOW)
      await store.deleteSessionsOf(subjectUid)
      expect(await store.getServiceSession(a.sessionHash)).toBeUndefined()
      expect(await store.getServiceSession(b.sessionHash)).toBeUndefined()
      expect(await store.getServiceSession(c2.sessionHash)).toEqual(c2)
    })
  })

  describe('one-time values and counters', () => {
    it('rememberOnce is true the first time only', async () => {
      const store = c.store()
      const jti = unique('jti-')
      expect(await store.rememberOnce(jti, Date.now() + HOUR)).toBe(true)
      expect(await store.rememberOnce(jti, Date.now() + HOUR)).toBe(false)
      expect(await store.rememberOnce(unique('jti-'), Date.now() + HOUR)).toBe(true)
    })

    it('countEvent counts within a window; a new window starts again at 1', async () => {
      const store = c.store()
      const key = unique('signin:ann@example.com:')
      const w1 = 1_700_000_000_000
      expect([await store.countEvent(key, w1), await store.countEvent(key, w1), await store.countEvent(key, w1)]).toEqual([1, 2, 3])
      expect(await store.countEvent(key, w1 + 60_000)).toBe(1)
      expect(await store.countEvent(unique('other:'), w1)).toBe(1)
      expect(await store.countEvent(key, w1 + 60_000)).toBe(2)
    })

    it('countEvent counts every one of many concurrent events', async () => {
      const store = c.store()
      const key = unique('burst:')
      const counts = await Promise.all(Array.from({ length: 40 }, () => store.countEvent(key, 0)))
      expect(counts.sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1))
    })
  })

  describe('purgeExpired', () => {
    it('deletes what has expired and keeps what has not', async () => {
      let clock = 0
      const store = await freshStore(() => clock)
      const now = 100 * DAY
      const [oldCode, liveCode] = [anAuthCode({ expireTime: now - 2 * HOUR }), anAuthCode({ expireTime: now - HOUR / 2 })]
      const [oldDevice, liveDevice] = [aDeviceCode({ expireTime: now - 2 * HOUR }), aDeviceCode({ expireTime: now - HOUR / 2 })]
      const [oldSession, liveSession] = [aSession({ expireTime: now - 1 }), aSession({ expireTime: now + HOUR })]
      const [oldToken, liveToken] = [aRefreshToken({ expireTime: now - 1 }), aRefreshToken({ expireTime: now + DAY })]
      for (const x of [oldCode, liveCode]) await store.insertAuthCode(x)
      for (const x of [oldDevice, liveDevice]) await store.insertDeviceCode(x)
      for (const x of [oldSession, liveSession]) await store.insertSession(x)
      for (const x of [oldToken, liveToken]) await store.insertRefreshToken(x)
      const livingParent = aSession({ expireTime: now + 2 * HOUR })
      await store.insertSession(livingParent)
      const [oldServiceSession, liveServiceSession] = [aServiceSession(livingParent, { expireTime: now - 1 }), aServiceSession(livingParent, { expireTime: now + HOUR })]
      for (const x of [oldServiceSession, liveServiceSession]) expect(await store.insertServiceSession(x, now - 2)).toBe(true)
      const [oldSignInCode, liveSignInCode] = [aServiceSignInCode({ expireTime: now - 2 * HOUR }), aServiceSignInCode({ expireTime: now + 60_000 })]
      for (const x of [oldSignInCode, liveSignInCode]) await store.insertServiceSignInCode(x)
      await store.rememberOnce('old-jti', now - 1)
      await store.rememberOnce('live-jti', now + HOUR)
      await store.countEvent('old-window', now - 2 * DAY)
      await store.countEvent('live-window', now - HOUR)
      clock = now - 2 * DAY
      await store.recordChange('user', 'old-change')
      clock = now - HOUR
      await store.recordChange('user', 'live-change')

      await store.purgeExpired(now)

      expect(await store.getAuthCode(oldCode.codeHash)).toBeUndefined()
      expect(await store.getAuthCode(liveCode.codeHash)).toEqual(liveCode)
      expect(await store.getDeviceCode(oldDevice.deviceCodeHash)).toBeUndefined()
      expect(await store.getDeviceCode(liveDevice.deviceCodeHash)).toEqual(liveDevice)
      expect(await store.getSession(oldSession.sessionHash)).toBeUndefined()
      expect(await store.getSession(liveSession.sessionHash)).toEqual(liveSession)
      expect(await store.getRefreshToken(oldToken.tokenHash)).toBeUndefined()
      expect(await store.getRefreshToken(liveToken.tokenHash)).toEqual(liveToken)
      expect(await store.getServiceSession(oldServiceSession.sessionHash)).toBeUndefined()
      expect(await store.getServiceSession(liveServiceSession.sessionHash)).toEqual(liveServiceSession)
      expect(await store.redeemServiceSignInCode(oldSignInCode.codeHash, 0)).toBeUndefined()
      expect(await store.redeemServiceSignInCode(liveSignInCode.codeHash, now)).toMatchObject({ codeHash: liveSignInCode.codeHash })
      expect(await store.rememberOnce('old-jti', now + HOUR)).toBe(true)
      expect(await store.rememberOnce('live-jti', now + HOUR)).toBe(false)
      expect(await store.countEvent('old-window', now - 2 * DAY)).toBe(1)
      expect(await store.countEvent('live-window', now - HOUR)).toBe(2)
      expect((await store.changesSince(0, 10)).map((ch) => ch.key)).toEqual(['live-change'])
    })
  })
}

/** The 'session' changes since `seq` whose key starts with `prefix` (other tests share the store and its feed). */
async function announced(store: Store, seq: number, prefix: string): Promise<string[]> {
  return (await store.changesSince(seq, 1000)).filter((c) => c.kind === 'session' && c.key.startsWith(prefix)).map((c) => c.key)
}
