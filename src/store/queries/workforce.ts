import type { FederatedSubjectRecord, WorkforcePoolRecord, WorkforceProviderRecord } from '../records.js'
import type { Sql } from '../sql.js'
import type { StoreTx } from '../store.js'
import { bool, flag, num, str, strOrNull, type Row } from './rows.js'

type WorkforceQueries = Pick<StoreTx,
  | 'getWorkforcePool' | 'listWorkforcePools' | 'insertWorkforcePool' | 'updateWorkforcePool' | 'deleteWorkforcePool'
  | 'getWorkforceProvider' | 'listWorkforceProviders' | 'insertWorkforceProvider' | 'updateWorkforceProvider' | 'deleteWorkforceProvider'
  | 'getFederatedSubject' | 'findFederatedSubject' | 'upsertFederatedSubject' | 'listFederatedSubjects'>

const pool = (r: Row): WorkforcePoolRecord => ({
  poolId: str(r.pool_id),
  uid: str(r.uid),
  displayName: str(r.display_name),
  description: str(r.description),
  sessionDurationSeconds: num(r.session_duration_seconds),
  disabled: bool(r.disabled),
  createTime: num(r.create_time),
  updateTime: num(r.update_time),
})

const provider = (r: Row): WorkforceProviderRecord => ({
  poolId: str(r.pool_id),
  providerId: str(r.provider_id),
  uid: str(r.uid),
  displayName: str(r.display_name),
  description: str(r.description),
  issuerUri: str(r.issuer_uri),
  clientId: str(r.client_id),
  jwksJson: strOrNull(r.jwks_json),
  attributeMapping: JSON.parse(str(r.attribute_mapping)) as Record<string, string>,
  attributeCondition: str(r.attribute_condition),
  disabled: bool(r.disabled),
  consoleSignIn: bool(r.console_sign_in),
  createTime: num(r.create_time),
  updateTime: num(r.update_time),
})

const subject = (r: Row): FederatedSubjectRecord => ({
  uid: str(r.uid),
  poolId: str(r.pool_id),
  subject: str(r.subject),
  providerId: str(r.provider_id),
  providerUid: str(r.provider_uid),
  displayName: str(r.display_name),
  email: strOrNull(r.email),
  groups: JSON.parse(str(r.groups_json)) as string[],
  attributes: JSON.parse(str(r.attributes_json)) as Record<string, string>,
  createTime: num(r.create_time),
  lastSignInTime: num(r.last_sign_in_time),
})

const providerValues = (p: WorkforceProviderRecord) => [
  p.displayName, p.description, p.issuerUri, p.clientId, p.jwksJson, JSON.stringify(p.attributeMapping), p.attributeCondition,
  flag(p.disabled), flag(p.consoleSignIn), p.createTime, p.updateTime,
]

export function workforceQueries(sql: Sql): WorkforceQueries {
  return {
    async getWorkforcePool(poolId) {
      const r = await sql.get(`SELECT * FROM workforce_pools WHERE pool_id = ?`, [poolId])
      return r && pool(r)
    },
    async listWorkforcePools() {
      return (await sql.all(`SELECT * FROM workforce_pools ORDER BY pool_id`)).map(pool)
    },
    async insertWorkforcePool(p) {
      const changed = await sql.run(
        `INSERT INTO workforce_pools (pool_id, uid, display_name, description, session_duration_seconds, disabled, create_time, update_time)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
        [p.poolId, p.uid, p.displayName, p.description, p.sessionDurationSeconds, flag(p.disabled), p.createTime, p.updateTime],
      )
      return changed === 1
    },
    async updateWorkforcePool(p) {
      const changed = await sql.run(
        `UPDATE workforce_pools SET display_name = ?, description = ?, session_duration_seconds = ?, disabled = ?, update_time = ? WHERE pool_id = ? AND uid = ?`,
        [p.displayName, p.description, p.sessionDurationSeconds, flag(p.disabled), p.updateTime, p.poolId, p.uid],
      )
      return changed === 1
    },
    async deleteWorkforcePool(poolId) {
      // The pool's providers and subjects go with it: a pool recreated with the same id starts empty.
      await sql.run(`DELETE FROM workforce_providers WHERE pool_id = ?`, [poolId])
      await sql.run(`DELETE FROM federated_subjects WHERE pool_id = ?`, [poolId])
      return (await sql.run(`DELETE FROM workforce_pools WHERE pool_id = ?`, [poolId])) === 1
    },

    async getWorkforceProvider(poolId, providerId) {
      const r = await sql.get(`SELECT * FROM workforce_providers WHERE pool_id = ? AND provider_id = ?`, [poolId, providerId])
      return r && provider(r)
    },
    async listWorkforceProviders(poolId) {
      const rows = poolId === undefined
        ? await sql.all(`SELECT * FROM workforce_providers ORDER BY pool_id, provider_id`)
        : await sql.all(`SELECT * FROM workforce_providers WHERE pool_id = ? ORDER BY provider_id`, [poolId])
      return rows.map(provider)
    },
    async insertWorkforceProvider(p) {
      const changed = await sql.run(
        `INSERT INTO workforce_providers (pool_id, provider_id, uid, display_name, description, issuer_uri, client_id, jwks_json,
          attribute_mapping, attribute_condition, disabled, console_sign_in, create_time, update_time)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
        [p.poolId, p.providerId, p.uid, ...providerValues(p)],
      )
      return changed === 1
    },
    async updateWorkforceProvider(p) {
      const changed = await sql.run(
        `UPDATE workforce_providers SET display_name = ?, description = ?, issuer_uri = ?, client_id = ?, jwks_json = ?, attribute_mapping = ?,
          attribute_condition = ?, disabled = ?, console_sign_in = ?, create_time = ?, update_time = ?
         WHERE pool_id = ? AND provider_id = ? AND uid = ?`,
        [...providerValues(p), p.poolId, p.providerId, p.uid],
      )
      return changed === 1
    },
    async deleteWorkforceProvider(poolId, providerId) {
      // The subjects it signed in go with it: a provider re-created under the same id is another provider.
      await sql.run(`DELETE FROM federated_subjects WHERE provider_uid IN (SELECT uid FROM workforce_providers WHERE pool_id = ? AND provider_id = ?)`, [poolId, providerId])
      return (await sql.run(`DELETE FROM workforce_providers WHERE pool_id = ? AND provider_id = ?`, [poolId, providerId])) === 1
    },

    async getFederatedSubject(uid) {
      const r = await sql.get(`SELECT * FROM federated_subjects WHERE uid = ?`, [uid])
      return r && subject(r)
    },
    async findFederatedSubject(poolId, subjectId) {
      const r = await sql.get(`SELECT * FROM federated_subjects WHERE pool_id = ? AND subject = ? ORDER BY last_sign_in_time DESC, uid LIMIT 1`, [poolId, subjectId])
      return r && subject(r)
    },
    async upsertFederatedSubject(s) {
      // One statement: two first sign-ins of the same subject at once agree on one uid.
      const r = await sql.get(
        `INSERT INTO federated_subjects (uid, pool_id, subject, provider_id, provider_uid, display_name, email, groups_json, attributes_json, create_time, last_sign_in_time)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (provider_uid, subject) DO UPDATE SET display_name = excluded.display_name,
           email = excluded.email, groups_json = excluded.groups_json, attributes_json = excluded.attributes_json,
           last_sign_in_time = excluded.last_sign_in_time
         RETURNING *`,
        [s.uid, s.poolId, s.subject, s.providerId, s.providerUid, s.displayName, s.email, JSON.stringify(s.groups), JSON.stringify(s.attributes), s.createTime, s.lastSignInTime],
      )
      return subject(r!)
    },
    async listFederatedSubjects(poolId, providerUid) {
      const rows = providerUid === undefined
        ? await sql.all(`SELECT * FROM federated_subjects WHERE pool_id = ? ORDER BY subject, provider_id`, [poolId])
        : await sql.all(`SELECT * FROM federated_subjects WHERE pool_id = ? AND provider_uid = ? ORDER BY subject`, [poolId, providerUid])
      return rows.map(subject)
    },
  }
}
