import { SESSION_CHANGE, type AuthCodeRecord, type DeviceCodeRecord, type RefreshTokenRecord, type SessionRecord, type SigningKeyRecord } from '../records.js'
import type { Sql } from '../sql.js'
import type { StoreTx } from '../store.js'
import { bool, flag, num, numOrNull, str, strOrNull, type Row } from './rows.js'

type OAuthQueries = Pick<StoreTx,
  | 'listSigningKeys' | 'insertSigningKey' | 'deleteSigningKeysExpiredBefore'
  | 'insertRefreshToken' | 'getRefreshToken' | 'markRefreshTokenUsed' | 'revokeRefreshFamily' | 'refreshFamilyLive' | 'refreshFamilyState' | 'revokeRefreshTokensOf'
  | 'insertAuthCode' | 'getAuthCode' | 'consumeAuthCode'
  | 'insertDeviceCode' | 'getDeviceCode' | 'getDeviceCodeByUserCode' | 'updateDeviceCode'
  | 'insertSession' | 'getSession' | 'deleteSession' | 'deleteSessionsOf'
  | 'rememberOnce' | 'countEvent' | 'purgeExpired'>

const signingKey = (r: Row): SigningKeyRecord => ({
  kid: str(r.kid),
  alg: 'RS256',
  publicJwk: str(r.public_jwk),
  privateKey: str(r.private_key),
  createTime: num(r.create_time),
  activateTime: num(r.activate_time),
  expireTime: num(r.expire_time),
})

const refreshToken = (r: Row): RefreshTokenRecord => ({
  tokenHash: str(r.token_hash),
  familyId: str(r.family_id),
  subjectUid: str(r.subject_uid),
  clientId: str(r.client_id),
  scope: str(r.scope),
  authTime: num(r.auth_time),
  createTime: num(r.create_time),
  expireTime: num(r.expire_time),
  usedTime: numOrNull(r.used_time),
  revoked: bool(r.revoked),
})

const authCode = (r: Row): AuthCodeRecord => ({
  codeHash: str(r.code_hash),
  clientId: str(r.client_id),
  redirectUri: str(r.redirect_uri),
  codeChallenge: str(r.code_challenge),
  subjectUid: str(r.subject_uid),
  scope: str(r.scope),
  nonce: strOrNull(r.nonce),
  authTime: num(r.auth_time),
  expireTime: num(r.expire_time),
  usedTime: numOrNull(r.used_time),
  familyId: strOrNull(r.family_id),
})

const deviceCode = (r: Row): DeviceCodeRecord => ({
  deviceCodeHash: str(r.device_code_hash),
  userCode: str(r.user_code),
  clientId: str(r.client_id),
  scope: str(r.scope),
  expireTime: num(r.expire_time),
  intervalSeconds: num(r.interval_seconds),
  lastPollTime: numOrNull(r.last_poll_time),
  subjectUid: strOrNull(r.subject_uid),
  authTime: numOrNull(r.auth_time),
  denied: bool(r.denied),
  consumed: bool(r.consumed),
  requestTime: numOrNull(r.request_time),
  requestAddress: strOrNull(r.request_address),
  loginHint: strOrNull(r.login_hint),
})

const session = (r: Row): SessionRecord => ({
  sessionHash: str(r.session_hash),
  subjectUid: str(r.subject_uid),
  csrfToken: str(r.csrf_token),
  createTime: num(r.create_time),
  expireTime: num(r.expire_time),
})

/**
 * `recordChange` announces ended sessions on the change feed (with the service sessions made from
 * them, which end too): gateways cache the sessions browsers present and must drop them at once.
 */
export function oauthQueries(sql: Sql, recordChange: StoreTx['recordChange']): OAuthQueries {
  return {
    async listSigningKeys() {
      return (await sql.all(`SELECT * FROM signing_keys ORDER BY activate_time, kid`)).map(signingKey)
    },
    async insertSigningKey(k, unlessCreatedAfter) {
      // Callers run this in a transaction: serializable isolation makes check-then-insert safe.
      const newer = await sql.get(`SELECT kid FROM signing_keys WHERE create_time > ?`, [unlessCreatedAfter])
      if (newer) return false
      await sql.run(
        `INSERT INTO signing_keys (kid, alg, public_jwk, private_key, create_time, activate_time, expire_time) VALUES (?, ?, ?, ?, ?, ?, ?)`,
        [k.kid, k.alg, k.publicJwk, k.privateKey, k.createTime, k.activateTime, k.expireTime],
      )
      return true
    },
    async deleteSigningKeysExpiredBefore(time) {
      return sql.run(`DELETE FROM signing_keys WHERE expire_time < ?`, [time])
    },

    async insertRefreshToken(t) {
      await sql.run(
        `INSERT INTO refresh_tokens (token_hash, family_id, subject_uid, client_id, scope, auth_time, create_time, expire_time, used_time, revoked)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [t.tokenHash, t.familyId, t.subjectUid, t.clientId, t.scope, t.authTime, t.createTime, t.expireTime, t.usedTime, flag(t.revoked)],
      )
    },
    async getRefreshToken(tokenHash) {
      const r = await sql.get(`SELECT * FROM refresh_tokens WHERE token_hash = ?`, [tokenHash])
      return r && refreshToken(r)
    },
    async markRefreshTokenUsed(tokenHash, time) {
      return (await sql.run(`UPDATE refresh_tokens SET used_time = ? WHERE token_hash = ? AND used_time IS NULL`, [time, tokenHash])) === 1
    },
    async revokeRefreshFamily(familyId) {
      const revoked = await sql.run(`UPDATE refresh_tokens SET revoked = 1 WHERE family_id = ? AND revoked = 0`, [familyId])
      if (revoked > 0) await recordChange('session', SESSION_CHANGE.refreshFamily(familyId))
      return revoked
    },
    async refreshFamilyLive(familyId) {
      // Every token of a family is revoked together, so one unrevoked row means the sign-in goes on (the family_id index answers it).
      return (await sql.get(`SELECT 1 AS live FROM refresh_tokens WHERE family_id = ? AND revoked = 0 LIMIT 1`, [familyId])) !== undefined
    },
    async refreshFamilyState(familyId) {
      // An unrevoked row first, if there is one (a family's rows share their subject).
      const r = await sql.get<{ subject_uid: unknown; revoked: unknown }>(`SELECT subject_uid, revoked FROM refresh_tokens WHERE family_id = ? ORDER BY revoked LIMIT 1`, [familyId])
      return r && { live: !bool(r.revoked), subjectUid: str(r.subject_uid) }
    },
    async revokeRefreshTokensOf(subjectUid) {
      const revoked = await sql.run(`UPDATE refresh_tokens SET revoked = 1 WHERE subject_uid = ? AND revoked = 0`, [subjectUid])
      if (revoked > 0) await recordChange('session', SESSION_CHANGE.subject(subjectUid))
      return revoked
    },

    async insertAuthCode(c) {
      await sql.run(
        `INSERT INTO auth_codes (code_hash, client_id, redirect_uri, code_challenge, subject_uid, scope, nonce, auth_time, expire_time, used_time, family_id)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [c.codeHash, c.clientId, c.redirectUri, c.codeChallenge, c.subjectUid, c.scope, c.nonce, c.authTime, c.expireTime, c.usedTime, c.familyId],
      )
    },
    async getAuthCode(codeHash) {
      const r = await sql.get(`SELECT * FROM auth_codes WHERE code_hash = ?`, [codeHash])
      return r && authCode(r)
    },
    async consumeAuthCode(codeHash, time, familyId) {
      return (await sql.run(`UPDATE auth_codes SET used_time = ?, family_id = ? WHERE code_hash = ? AND used_time IS NULL`, [time, familyId, codeHash])) === 1
    },

    async insertDeviceCode(d) {
      const changed = await sql.run(
        `INSERT INTO device_codes (device_code_hash, user_code, client_id, scope, expire_time, interval_seconds, last_poll_time, subject_uid, auth_time, denied, consumed,
           request_time, request_address, login_hint)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
        [d.deviceCodeHash, d.userCode, d.clientId, d.scope, d.expireTime, d.intervalSeconds, d.lastPollTime, d.subjectUid, d.authTime, flag(d.denied), flag(d.consumed),
          d.requestTime, d.requestAddress, d.loginHint],
      )
      return changed === 1
    },
    async getDeviceCode(hash) {
      const r = await sql.get(`SELECT * FROM device_codes WHERE device_code_hash = ?`, [hash])
      return r && deviceCode(r)
    },
    async getDeviceCodeByUserCode(userCode) {
      const r = await sql.get(`SELECT * FROM device_codes WHERE user_code = ?`, [userCode])
      return r && deviceCode(r)
    },
    async updateDeviceCode(d) {
      await sql.run(
        `UPDATE device_codes SET interval_seconds = ?, last_poll_time = ?, subject_uid = ?, auth_time = ?, denied = ?, consumed = ? WHERE device_code_hash = ?`,
        [d.intervalSeconds, d.lastPollTime, d.subjectUid, d.authTime, flag(d.denied), flag(d.consumed), d.deviceCodeHash],
      )
    },

    async insertSession(s) {
      await sql.run(`INSERT INTO sessions (session_hash, subject_uid, csrf_token, create_time, expire_time) VALUES (?, ?, ?, ?, ?)`, [
        s.sessionHash, s.subjectUid, s.csrfToken, s.createTime, s.expireTime,
      ])
    },
    async getSession(hash) {
      const r = await sql.get(`SELECT * FROM sessions WHERE session_hash = ?`, [hash])
      return r && session(r)
    },
    async deleteSession(hash) {
      await sql.run(`DELETE FROM sessions WHERE session_hash = ?`, [hash])
      await sql.run(`DELETE FROM service_sessions WHERE sign_in_session_hash = ?`, [hash])
      await recordChange('session', SESSION_CHANGE.signIn(hash))
    },
    async deleteSessionsOf(subjectUid) {
      await sql.run(`DELETE FROM sessions WHERE subject_uid = ?`, [subjectUid])
      await sql.run(`DELETE FROM service_sessions WHERE subject_uid = ?`, [subjectUid])
      await recordChange('session', SESSION_CHANGE.subject(subjectUid))
    },

    async rememberOnce(key, expireTime) {
      return (await sql.run(`INSERT INTO once_values (key, expire_time) VALUES (?, ?) ON CONFLICT DO NOTHING`, [key, expireTime])) === 1
    },
    async countEvent(key, windowStart) {
      const r = await sql.get<{ count: unknown }>(
        `INSERT INTO event_counts (key, window_start, count) VALUES (?, ?, 1)
         ON CONFLICT (key, window_start) DO UPDATE SET count = event_counts.count + 1 RETURNING count`,
        [key, windowStart],
      )
      return num(r?.count)
    },
    async purgeExpired(now) {
      await sql.run(`DELETE FROM auth_codes WHERE expire_time < ?`, [now - 3_600_000])
      await sql.run(`DELETE FROM device_codes WHERE expire_time < ?`, [now - 3_600_000])
      await sql.run(`DELETE FROM sessions WHERE expire_time < ?`, [now])
      await sql.run(`DELETE FROM service_sessions WHERE expire_time < ?`, [now])
      await sql.run(`DELETE FROM service_sign_in_codes WHERE expire_time < ?`, [now - 3_600_000])
      await sql.run(`DELETE FROM once_values WHERE expire_time < ?`, [now])
      await sql.run(`DELETE FROM event_counts WHERE window_start < ?`, [now - 86_400_000])
      await sql.run(`DELETE FROM refresh_tokens WHERE expire_time < ?`, [now])
      // The newest change stays, however old: it is where every process's view stands, and a feed
      // emptied by a quiet day would look to them rewritten (gone backwards: change-follower.ts),
      // failing them closed for a reload nothing called for.
      await sql.run(`DELETE FROM changes WHERE time < ? AND seq < (SELECT MAX(seq) FROM changes)`, [now - 86_400_000])
    },
  }
}
