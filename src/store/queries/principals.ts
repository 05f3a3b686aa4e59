import type { GroupMembership, GroupRecord, ServiceAccountKeyRecord, ServiceAccountRecord, UserRecord } from '../records.js'
import type { Sql } from '../sql.js'
import type { StoreTx } from '../store.js'
import { bool, flag, num, str, strOrNull, type Row } from './rows.js'

type PrincipalQueries = Pick<StoreTx,
  | 'getUser' | 'getUserByUid' | 'listUsers' | 'insertUser' | 'updateUser' | 'deleteUser'
  | 'getGroup' | 'listGroups' | 'insertGroup' | 'deleteGroup' | 'listMemberships' | 'addMembership' | 'removeMembership' | 'removeMemberEverywhere'
  | 'getServiceAccount' | 'getServiceAccountByUid' | 'listServiceAccounts' | 'insertServiceAccount' | 'updateServiceAccount' | 'deleteServiceAccount'
  | 'getServiceAccountKey' | 'listServiceAccountKeys' | 'insertServiceAccountKey' | 'deleteServiceAccountKey'>

const user = (r: Row): UserRecord => ({
  email: str(r.email),
  uid: str(r.uid),
  displayName: str(r.display_name),
  passwordHash: strOrNull(r.password_hash),
  disabled: bool(r.disabled),
  createTime: num(r.create_time),
  updateTime: num(r.update_time),
})

const group = (r: Row): GroupRecord => ({
  email: str(r.email),
  uid: str(r.uid),
  displayName: str(r.display_name),
  description: str(r.description),
  createTime: num(r.create_time),
})

const serviceAccount = (r: Row): ServiceAccountRecord => ({
  projectId: str(r.project_id),
  email: str(r.email),
  uid: str(r.uid),
  displayName: str(r.display_name),
  description: str(r.description),
  disabled: bool(r.disabled),
  createTime: num(r.create_time),
})

const saKey = (r: Row): ServiceAccountKeyRecord => ({
  keyId: str(r.key_id),
  serviceAccountEmail: str(r.sa_email),
  publicKeyPem: str(r.public_key_pem),
  createTime: num(r.create_time),
})

export function principalQueries(sql: Sql): PrincipalQueries {
  return {
    async getUser(email) {
      const r = await sql.get(`SELECT * FROM users WHERE email = ?`, [email])
      return r && user(r)
    },
    async getUserByUid(uid) {
      const r = await sql.get(`SELECT * FROM users WHERE uid = ?`, [uid])
      return r && user(r)
    },
    async listUsers() {
      return (await sql.all(`SELECT * FROM users ORDER BY email`)).map(user)
    },
    async insertUser(u) {
      const changed = await sql.run(
        `INSERT INTO users (email, uid, display_name, password_hash, disabled, create_time, update_time) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
        [u.email, u.uid, u.displayName, u.passwordHash, flag(u.disabled), u.createTime, u.updateTime],
      )
      return changed === 1
    },
    async updateUser(u) {
      const changed = await sql.run(
        `UPDATE users SET display_name = ?, password_hash = ?, disabled = ?, update_time = ? WHERE email = ? AND uid = ?`,
        [u.displayName, u.passwordHash, flag(u.disabled), u.updateTime, u.email, u.uid],
      )
      return changed === 1
    },
    async deleteUser(email) {
      return (await sql.run(`DELETE FROM users WHERE email = ?`, [email])) === 1
    },

    async getGroup(email) {
      const r = await sql.get(`SELECT * FROM iam_groups WHERE email = ?`, [email])
      return r && group(r)
    },
    async listGroups() {
      return (await sql.all(`SELECT * FROM iam_groups ORDER BY email`)).map(group)
    },
    async insertGroup(g) {
      const changed = await sql.run(
        `INSERT INTO iam_groups (email, uid, display_name, description, create_time) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
        [g.email, g.uid, g.displayName, g.description, g.createTime],
      )
      return changed === 1
    },
    async deleteGroup(email) {
      await sql.run(`DELETE FROM group_members WHERE group_email = ?`, [email])
      return (await sql.run(`DELETE FROM iam_groups WHERE email = ?`, [email])) === 1
    },
    async listMemberships(groupEmail) {
      const rows = groupEmail === undefined
        ? await sql.all(`SELECT * FROM group_members ORDER BY group_email, member`)
        : await sql.all(`SELECT * FROM group_members WHERE group_email = ? ORDER BY member`, [groupEmail])
      return rows.map((r): GroupMembership => ({ group: str(r.group_email), member: str(r.member) }))
    },
    async addMembership(m) {
      return (await sql.run(`INSERT INTO group_members (group_email, member) VALUES (?, ?) ON CONFLICT DO NOTHING`, [m.group, m.member])) === 1
    },
    async removeMembership(m) {
      return (await sql.run(`DELETE FROM group_members WHERE group_email = ? AND member = ?`, [m.group, m.member])) === 1
    },
    async removeMemberEverywhere(member) {
      // One statement, so the groups returned are exactly the rows deleted, inside a transaction or not.
      const rows = await sql.all(`DELETE FROM group_members WHERE member = ? RETURNING group_email`, [member])
      return rows.map((r) => str(r.group_email)).sort()
    },

    async getServiceAccount(email) {
      const r = await sql.get(`SELECT * FROM service_accounts WHERE email = ?`, [email])
      return r && serviceAccount(r)
    },
    async getServiceAccountByUid(uid) {
      const r = await sql.get(`SELECT * FROM service_accounts WHERE uid = ?`, [uid])
      return r && serviceAccount(r)
    },
    async listServiceAccounts(projectId) {
      const rows = projectId === undefined
        ? await sql.all(`SELECT * FROM service_accounts ORDER BY email`)
        : await sql.all(`SELECT * FROM service_accounts WHERE project_id = ? ORDER BY email`, [projectId])
      return rows.map(serviceAccount)
    },
    async insertServiceAccount(sa) {
      const changed = await sql.run(
        `INSERT INTO service_accounts (email, project_id, uid, display_name, description, disabled, create_time) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
        [sa.email, sa.projectId, sa.uid, sa.displayName, sa.description, flag(sa.disabled), sa.createTime],
      )
      return changed === 1
    },
    async updateServiceAccount(sa) {
      const changed = await sql.run(`UPDATE service_accounts SET display_name = ?, description = ?, disabled = ? WHERE email = ? AND uid = ?`, [
        sa.displayName, sa.description, flag(sa.disabled), sa.email, sa.uid,
      ])
      return changed === 1
    },
    async deleteServiceAccount(email) {
      await sql.run(`DELETE FROM service_account_keys WHERE sa_email = ?`, [email])
      return (await sql.run(`DELETE FROM service_accounts WHERE email = ?`, [email])) === 1
    },
    async getServiceAccountKey(keyId) {
      const r = await sql.get(`SELECT * FROM service_account_keys WHERE key_id = ?`, [keyId])
      return r && saKey(r)
    },
    async listServiceAccountKeys(email) {
      return (await sql.all(`SELECT * FROM service_account_keys WHERE sa_email = ? ORDER BY create_time`, [email])).map(saKey)
    },
    async insertServiceAccountKey(k) {
      const changed = await sql.run(`INSERT INTO service_account_keys (key_id, sa_email, public_key_pem, create_time) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`, [
        k.keyId, k.serviceAccountEmail, k.publicKeyPem, k.createTime,
      ])
      return changed === 1
    },
    async deleteServiceAccountKey(keyId) {
      return (await sql.run(`DELETE FROM service_account_keys WHERE key_id = ?`, [keyId])) === 1
    },
  }
}
