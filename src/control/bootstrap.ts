import { newUid, randomToken } from '../core/ids.js'
import { hashPassword } from '../identity/passwords.js'
import { issueRefreshToken } from '../identity/refresh-tokens.js'
import { newEtag } from '../iam/policy.js'
import { EMPTY_ETAG } from '../iam/policy.js'
import { ORGANIZATION, parseProjectId, projectName } from '../iam/resources.js'
import { parseEmail } from '../iam/members.js'
import type { Store } from '../store/store.js'
import { CLI_CLIENT_ID } from './caller.js'

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
 * transaction, so among processes starting together exactly one bootstraps.
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
