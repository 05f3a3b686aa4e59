import type { Sql } from '../sql.js'
import { num, numOrNull, str, strOrNull, type Row } from './rows.js'

/**
 * Just-in-time access: requests to hold a role on a service for a while, the policy tests a
 * service or project carries, and each service's limit on how long a request may last.
 * Times are milliseconds since the epoch; durations are seconds.
 */
export type AccessRequestState = 'PENDING' | 'APPROVED' | 'DENIED' | 'EXPIRED'

export interface AccessRequestRecord {
  id: string
  /** The service the role is asked for, e.g. projects/p/services/s. */
  resource: string
  /** The service's uid when the request was filed: a service re-created under the name is another. */
  resourceUid: string
  /** The member the grant names, e.g. user:ann@example.com. */
  requester: string
  /** The requester's uid: an account deleted and re-created under the email is someone else. */
  requesterUid: string
  role: string
  reason: string
  requestedSeconds: number
  state: AccessRequestState
  createTime: number
  /** Who approved or denied, and when. */
  decider: string | null
  decideTime: number | null
  /** A denial's reason ('' when none was given). */
  decisionNote: string
  /** For an approved request: how long the grant lasts, and when it ends. */
  grantedSeconds: number | null
  expireTime: number | null
  /** When Postern removed the expired grant from the policy. */
  endTime: number | null
}

/** The policy tests of a service or project, as the API took them (validated by iam/access-tests.ts). */
export interface AccessTestsRecord {
  resource: string
  resourceUid: string
  tests: unknown[]
  updateTime: number
  updater: string
}

export interface AccessRequestSettingsRecord {
  resource: string
  resourceUid: string
  maxDurationSeconds: number
  updateTime: number
  updater: string
}

export interface AccessQueries {
  /** False when the id is taken. */
  insertAccessRequest(r: AccessRequestRecord): Promise<boolean>
  getAccessRequest(id: string): Promise<AccessRequestRecord | undefined>
  /** Newest first; with `before`, only those after that one in this order (a page's start). */
  listAccessRequests(filter: { state?: AccessRequestState; requester?: string; resource?: string; before?: { createTime: number; id: string }; limit: number }): Promise<AccessRequestRecord[]>
  /** Compare-and-set on the state: writes only if the stored request is still in `expectedState`. */
  updateAccessRequest(r: AccessRequestRecord, expectedState: AccessRequestState): Promise<boolean>
  /** Approved requests whose grant ended at or before `now`, oldest first. */
  listEndedGrants(now: number, limit: number): Promise<AccessRequestRecord[]>

  getAccessTests(resource: string): Promise<AccessTestsRecord | undefined>
  listAccessTests(): Promise<AccessTestsRecord[]>
  /** Inserts or replaces; an empty list of tests removes the row. */
  putAccessTests(r: AccessTestsRecord): Promise<void>

  getAccessRequestSettings(resource: string): Promise<AccessRequestSettingsRecord | undefined>
  putAccessRequestSettings(r: AccessRequestSettingsRecord): Promise<void>
}

const request = (r: Row): AccessRequestRecord => ({
  id: str(r.id),
  resource: str(r.resource),
  resourceUid: str(r.resource_uid),
  requester: str(r.requester),
  requesterUid: str(r.requester_uid),
  role: str(r.role),
  reason: str(r.reason),
  requestedSeconds: num(r.requested_seconds),
  state: str(r.state) as AccessRequestState,
  createTime: num(r.create_time),
  decider: strOrNull(r.decider),
  decideTime: numOrNull(r.decide_time),
  decisionNote: str(r.decision_note),
  grantedSeconds: numOrNull(r.granted_seconds),
  expireTime: numOrNull(r.expire_time),
  endTime: numOrNull(r.end_time),
})

const tests = (r: Row): AccessTestsRecord => ({
  resource: str(r.resource),
  resourceUid: str(r.resource_uid),
  tests: JSON.parse(str(r.tests)) as unknown[],
  updateTime: num(r.update_time),
  updater: str(r.updater),
})

const settings = (r: Row): AccessRequestSettingsRecord => ({
  resource: str(r.resource),
  resourceUid: str(r.resource_uid),
  maxDurationSeconds: num(r.max_duration_seconds),
  updateTime: num(r.update_time),
  updater: str(r.updater),
})

export function accessQueries(sql: Sql): AccessQueries {
  return {
    async insertAccessRequest(r) {
      const changed = await sql.run(
        `INSERT INTO access_requests (id, resource, resource_uid, requester, requester_uid, role, reason, requested_seconds, state, create_time,
          decider, decide_time, decision_note, granted_seconds, expire_time, end_time)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
        [r.id, r.resource, r.resourceUid, r.requester, r.requesterUid, r.role, r.reason, r.requestedSeconds, r.state, r.createTime,
          r.decider, r.decideTime, r.decisionNote, r.grantedSeconds, r.expireTime, r.endTime],
      )
      return changed === 1
    },
    async getAccessRequest(id) {
      const r = await sql.get(`SELECT * FROM access_requests WHERE id = ?`, [id])
      return r && request(r)
    },
    async listAccessRequests({ state, requester, resource, before, limit }) {
      const conditions: [string, unknown[]][] = []
      if (state) conditions.push(['state = ?', [state]])
      if (requester) conditions.push(['requester = ?', [requester]])
      if (resource) conditions.push(['resource = ?', [resource]])
      if (before) conditions.push(['(create_time < ? OR (create_time = ? AND id < ?))', [before.createTime, before.createTime, before.id]])
      const clause = conditions.length ? `WHERE ${conditions.map(([c]) => c).join(' AND ')}` : ''
      const rows = await sql.all(`SELECT * FROM access_requests ${clause} ORDER BY create_time DESC, id DESC LIMIT ?`, [...conditions.flatMap(([, v]) => v), limit])
      return rows.map(request)
    },
    async updateAccessRequest(r, expectedState) {
      const changed = await sql.run(
        `UPDATE access_requests SET state = ?, decider = ?, decide_time = ?, decision_note = ?, granted_seconds = ?, expire_time = ?, end_time = ?
         WHERE id = ? AND state = ?`,
        [r.state, r.decider, r.decideTime, r.decisionNote, r.grantedSeconds, r.expireTime, r.endTime, r.id, expectedState],
      )
      return changed === 1
    },
    async listEndedGrants(now, limit) {
      const rows = await sql.all(`SELECT * FROM access_requests WHERE state = 'APPROVED' AND expire_time <= ? ORDER BY expire_time, id LIMIT ?`, [now, limit])
      return rows.map(request)
    },

    async getAccessTests(resource) {
      const r = await sql.get(`SELECT * FROM access_tests WHERE resource = ?`, [resource])
      return r && tests(r)
    },
    async listAccessTests() {
      return (await sql.all(`SELECT * FROM access_tests ORDER BY resource`)).map(tests)
    },
    async putAccessTests(r) {
      if (r.tests.length === 0) {
        await sql.run(`DELETE FROM access_tests WHERE resource = ?`, [r.resource])
        return
      }
      await sql.run(
        `INSERT INTO access_tests (resource, resource_uid, tests, update_time, updater) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (resource) DO UPDATE SET resource_uid = excluded.resource_uid, tests = excluded.tests,
           update_time = excluded.update_time, updater = excluded.updater`,
        [r.resource, r.resourceUid, JSON.stringify(r.tests), r.updateTime, r.updater],
      )
    },

    async getAccessRequestSettings(resource) {
      const r = await sql.get(`SELECT * FROM access_request_settings WHERE resource = ?`, [resource])
      return r && settings(r)
    },
    async putAccessRequestSettings(r) {
      await sql.run(
        `INSERT INTO access_request_settings (resource, resource_uid, max_duration_seconds, update_time, updater) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (resource) DO UPDATE SET resource_uid = excluded.resource_uid, max_duration_seconds = excluded.max_duration_seconds,
           update_time = excluded.update_time, updater = excluded.updater`,
        [r.resource, r.resourceUid, r.maxDurationSeconds, r.updateTime, r.updater],
      )
    },
  }
}
