import { PosternError } from '../core/errors.js'
import { newUid, randomToken } from '../core/ids.js'
import { hashPassword } from '../identity/passwords.js'
import { issueRefreshToken } from '../identity/refresh-tokens.js'
import { newEtag } from '../iam/policy.js'
import { EMPTY_ETAG } from '../iam/policy.js'
import { ORGANIZATION, parseProjectId, projectName } from '../iam/resources.js'
import { parseEmail } from '../iam/members.js'
import type { Store } from '../store/store.js'
import { CLI_CLIENT_ID } from '../api/clients.js'

export interface BootstrapResult {
  firstStart: boolean
  owner: string
  ownerUid: string
  /** Shown once, on the first start only. */
  password?: string
}

/**
 * First start on an empty store (DESIGN §2): the organization's policy naming the owner as
 * roles/owner, the default project, and the owner account with a generated password. One
 * transaction, so among processes starting together exactly one bootstraps. Called only once the
 * ports are open: a start that cannot listen must leave the store empty, or the password it
 * would print is lost and the next start has nothing to print.
 */
export async function bootstrap(store: Store, o: { owner: string; project: string; now: number }): Promise<BootstrapResult> {
  const owner = parseEmail(o.owner, '--owner')
  const projectId = parseProjectId(o.project)
  const password = randomToken(15)
  const passwordHash = await hashPassword(password)
  return store.transaction(async (tx) => {
    if (await tx.getPolicy(ORGANIZATION)) {
      const existing = await tx.getUser(owner)
      return { firstStart: false, owner, ownerUid: existing?.uid ?? '' }
    }
    const uid = newUid()
    await tx.insertUser({ email: owner, uid, displayName: 'Owner', passwordHash, disabled: false, createTime: o.now, updateTime: o.now })
    await tx.insertProject({ projectId, uid: newUid(), createTime: o.now })
    await tx.putPolicy(ORGANIZATION, { version: 1, bindings: [{ role: 'roles/owner', members: [`user:${owner}`] }] }, newEtag(), EMPTY_ETAG)
    await tx.appendAudit({ time: o.now, principal: 'system', method: 'bootstrap', resource: ORGANIZATION, outcome: 'OK', details: { owner, project: projectName(projectId) } })
    await tx.recordChange('user', owner)
    await tx.recordChange('project', projectId)
    await tx.recordChange('policy', ORGANIZATION)
    return { firstStart: true, owner, ownerUid: uid, password }
  })
}

/** A refresh token for the owner, so the local CLI is signed in at once. */
export function ownerRefreshToken(store: Store, ownerUid: string, now: number): Promise<string> {
  return store.transaction(async (tx) => (await issueRefreshToken(tx, { subjectUid: ownerUid, clientId: CLI_CLIENT_ID, scope: 'openid email offline_access', authTime: now, now })).token)
}

export interface OwnerReset {
  owner: string
  ownerUid: string
  password: string
  /** What else had to be mended to let the owner in (re-created, enabled, granted roles/owner). */
  mended: string[]
}

/**
 * The way back in for whoever holds the data (`postern serve --reset-owner-password`): a new
 * generated password for the owner, every session and refresh token of the owner ended (whoever
 * else knew the old password is out), and the account re-created, enabled and granted roles/owner
 * on the organization if any of that had been undone. The owner is `owner` when given, else the
 * one local user holding roles/owner on the organization.
 */
export async function resetOwnerPassword(store: Store, o: { owner?: string; fallbackOwner: string; now: number }): Promise<OwnerReset> {
  const password = randomToken(15)
  const passwordHash = await hashPassword(password)
  return store.transaction(async (tx) => {
    const org = await tx.getPolicy(ORGANIZATION)
    if (!org) throw new PosternError('FAILED_PRECONDITION', 'This store is empty: there is no owner yet. Start postern serve; the first start creates the owner and prints its password.')
    const owners = org.policy.bindings.filter((b) => b.role === 'roles/owner' && !b.condition).flatMap((b) => b.members.filter((m) => m.startsWith('user:')).map((m) => m.slice('user:'.length)))
    let email: string
    if (o.owner !== undefined) email = parseEmail(o.owner, '--owner')
    else {
      const local = []
      for (const candidate of owners) if (await tx.getUser(candidate)) local.push(candidate)
      if (local.length > 1) throw new PosternError('INVALID_ARGUMENT', `The organization has several owners (${local.join(', ')}); name one with --owner EMAIL.`)
      email = local[0] ?? parseEmail(o.fallbackOwner, '--owner')
    }
    const mended: string[] = []
    let user = await tx.getUser(email)
    if (!user) {
      user = { email, uid: newUid(), displayName: 'Owner', passwordHash, disabled: false, createTime: o.now, updateTime: o.now }
      await tx.insertUser(user)
      mended.push(`created the account ${email}`)
    } else {
      if (user.disabled) mended.push(`enabled ${email}, which was disabled`)
      user = { ...user, passwordHash, disabled: false, updateTime: o.now }
      await tx.updateUser(user)
      await tx.revokeRefreshTokensOf(user.uid)
      await tx.deleteSessionsOf(user.uid)
    }
    if (!owners.includes(email)) {
      const bindings = [...org.policy.bindings]
      const i = bindings.findIndex((b) => b.role === 'roles/owner' && !b.condition)
      if (i >= 0) bindings[i] = { ...bindings[i]!, members: [...bindings[i]!.members, `user:${email}`] }
      else bindings.push({ role: 'roles/owner', members: [`user:${email}`] })
      if (!(await tx.putPolicy(ORGANIZATION, { ...org.policy, bindings }, newEtag(), org.etag))) {
        throw new PosternError('ABORTED', 'The organization policy changed meanwhile; run the command again.')
      }
      await tx.recordChange('policy', ORGANIZATION)
      mended.push(`granted ${email} roles/owner on ${ORGANIZATION}`)
    }
    await tx.appendAudit({ time: o.now, principal: 'system', method: 'users.resetOwnerPassword', resource: `users/${email}`, outcome: 'OK', details: { mended } })
    await tx.recordChange('user', email)
    return { owner: email, ownerUid: user.uid, password, mended }
  })
}

/**
 * Whether this process holds the data itself: the embedded store, or a PostgreSQL on this machine
 * (loopback or a Unix socket). Resetting the owner's password is for whoever could read the data
 * anyway, never for someone who merely reaches a database over the network.
 */
export function storeIsOnThisMachine(databaseUrl: string | undefined): boolean {
  if (databaseUrl === undefined) return true
  let url: URL
  try {
    url = new URL(databaseUrl)
  } catch {
    return false
  }
  const socket = url.searchParams.get('host')
  if (socket?.startsWith('/')) return true
  const host = url.hostname.replace(/^\[|\]$/g, '')
  return host === '' || host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)
}
