import type { ServiceSessionRecord, ServiceSignInCodeRecord } from '../records.js'
import type { Sql } from '../sql.js'
import type { StoreTx } from '../store.js'
import { num, numOrNull, str, type Row } from './rows.js'

type ServiceSessionQueries = Pick<StoreTx, 'insertServiceSignInCode' | 'redeemServiceSignInCode' | 'insertServiceSession' | 'getServiceSession'>

const code = (r: Row): ServiceSignInCodeRecord => ({
  codeHash: str(r.code_hash),
  serviceUid: str(r.service_uid),
  returnPath: str(r.return_path),
  state: str(r.state),
  subjectUid: str(r.subject_uid),
  signInSessionHash: str(r.sign_in_session_hash),
  expireTime: num(r.expire_time),
  usedTime: numOrNull(r.used_time),
})

const session = (r: Row): ServiceSessionRecord => ({
  sessionHash: str(r.session_hash),
  signInSessionHash: str(r.sign_in_session_hash),
  subjectUid: str(r.subject_uid),
  serviceUid: str(r.service_uid),
  createTime: num(r.create_time),
  expireTime: num(r.expire_time),
})

/** Browsers' sessions on services' hosts and the one-time codes that start them. */
export function serviceSessionQueries(sql: Sql): ServiceSessionQueries {
  return {
    async insertServiceSignInCode(c) {
      await sql.run(
        `INSERT INTO service_sign_in_codes (code_hash, service_uid, return_path, state, subject_uid, sign_in_session_hash, expire_time, used_time)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        [c.codeHash, c.serviceUid, c.returnPath, c.state, c.subjectUid, c.signInSessionHash, c.expireTime, c.usedTime],
      )
    },
    async redeemServiceSignInCode(codeHash, time) {
      // One statement: of any number of concurrent redemptions exactly one gets the record.
      const r = await sql.get(
        `UPDATE service_sign_in_codes SET used_time = ? WHERE code_hash = ? AND used_time IS NULL AND expire_time > ? RETURNING *`,
        [time, codeHash, time],
      )
      return r && code(r)
    },
    async insertServiceSession(s, now) {
      // Only while the sign-in session it comes from is live: a sign-out racing the redemption wins.
      const changed = await sql.run(
        `INSERT INTO service_sessions (session_hash, sign_in_session_hash, subject_uid, service_uid, create_time, expire_time)
         SELECT ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM sessions WHERE session_hash = ? AND subject_uid = ? AND expire_time > ?)`,
        [s.sessionHash, s.signInSessionHash, s.subjectUid, s.serviceUid, s.createTime, s.expireTime, s.signInSessionHash, s.subjectUid, now],
      )
      return changed === 1
    },
    async getServiceSession(sessionHash) {
      // A service session counts only while its sign-in session exists, however that one ended.
      const r = await sql.get(
        `SELECT s.* FROM service_sessions s JOIN sessions p ON p.session_hash = s.sign_in_session_hash WHERE s.session_hash = ?`,
        [sessionHash],
      )
      return r && session(r)
    },
  }
}
