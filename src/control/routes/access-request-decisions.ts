import { retryOnConflict } from '../../api/read-modify-write.js'
import * as z from 'zod'
import { PosternError, denied } from '../../core/errors.js'
import { parseWith } from '../../core/validate.js'
import { checkDuration, grantCondition, parseWireDuration, withGrant } from '../../iam/access-grants.js'
import type { Member } from '../../iam/members.js'
import { newEtag } from '../../iam/policy.js'
import { CONCURRENT_CHANGE } from '../../iam/policy-write.js'
import type { Role } from '../../iam/roles.js'
import type { Router } from '../../http/router.js'
import type { AccessRequestRecord } from '../../store/queries/access-requests.js'
import type { StoreTx } from '../../store/store.js'
import { accessRequestView, describeState, maxRequestSeconds, memberOf, notFoundRequest, parseReason, parseRequestId } from '../access-request-view.js'
import { assertPolicyKeepsTests } from '../access-test-guard.js'
import { mutate, ok, type Handler } from '../handler.js'
import { readPolicy } from './iam-policy.js'

const Approve = z.strictObject({ duration: z.string().max(20).optional() })
const Deny = z.strictObject({ reason: z.string().max(2000).optional() })

/**
 * Approving and denying. Both need run.services.setIamPolicy on the service; nobody approves
 * their own request. The request's state moves with a compare-and-set in the same transaction as
 * the policy write, so of any number of concurrent approvals exactly one wins, and the grant is
 * written once.
 */
export function accessRequestDecisionRoutes(r: Router<Handler>): void {
  r.add('POST', '/v1/accessRequests/{id}:approve', async (c) => {
    const caller = c.caller()
    const id = parseRequestId(c.params.id)
    const body = parseWith(Approve, await c.json())
    const asked = body.duration === undefined ? undefined : parseWireDuration(body.duration, 'duration')
    const found = await c.deps.store.getAccessRequest(id)
    if (!found) throw notFoundRequest(id)
    const seconds = asked ?? found.requestedSeconds
    const approver = memberOf(caller)
    if (approver === found.requester) {
      await c.deps.store.appendAudit({
        time: c.deps.clock(), principal: caller.member, method: 'accessRequests.approve', resource: found.resource, outcome: 'PERMISSION_DENIED',
        details: { request: id, reason: 'own request' },
      })
      throw denied(`You cannot approve your own access request '${id}'; someone else who may set the policy of ${found.resource} has to.`)
    }
    const now = c.deps.clock()
    const expireTime = now + seconds * 1000
    const op = {
      method: 'accessRequests.approve', resource: found.resource, permission: 'run.services.setIamPolicy',
      details: { request: id, member: found.requester, role: found.role, duration: `${seconds}s`, expireTime: new Date(expireTime).toISOString() },
    }
    // The policy write is a read-modify-write with its etag; inside one transaction it cannot
    // lose a concurrent edit, and should it ever see ABORTED it starts over.
    const approved = await retryOnConflict(() => mutate(c, op, (tx) => approve(tx, id, approver, seconds, now, expireTime)), { attempts: 5 })
    return ok(accessRequestView(approved, false))
  })

  r.add('POST', '/v1/accessRequests/{id}:deny', async (c) => {
    const caller = c.caller()
    const id = parseRequestId(c.params.id)
    const body = parseWith(Deny, await c.json())
    const note = body.reason === undefined || body.reason.trim() === '' ? '' : parseReason(body.reason)
    const found = await c.deps.store.getAccessRequest(id)
    if (!found) throw notFoundRequest(id)
    const op = { method: 'accessRequests.deny', resource: found.resource, permission: 'run.services.setIamPolicy', details: { request: id, member: found.requester, role: found.role, reason: note } }
    const decided = await mutate(c, op, async (tx) => {
      const current = await pending(tx, id)
      const next: AccessRequestRecord = { ...current, state: 'DENIED', decider: memberOf(caller), decideTime: c.deps.clock(), decisionNote: note }
      if (!(await tx.updateAccessRequest(next, 'PENDING'))) throw alreadyDecided(await tx.getAccessRequest(id))
      await tx.recordChange('accessRequest', id)
      return next
    })
    return ok(accessRequestView(decided, false))
  })
}

async function approve(tx: StoreTx, id: string, approver: string, seconds: number, now: number, expireTime: number): Promise<AccessRequestRecord> {
  const current = await pending(tx, id)
  const [, projectId, , serviceId] = current.resource.split('/') as [string, string, string, string]
  const service = await tx.getService(projectId, serviceId)
  if (!service || service.uid !== current.resourceUid) {
    throw new PosternError('FAILED_PRECONDITION', `The service ${current.resource} was deleted after request '${id}' was filed; deny it, and the requester may ask again.`)
  }
  checkDuration(seconds, await maxRequestSeconds(tx, current.resource, service.uid), current.resource, 'The approved duration')
  if (!(await requesterStillExists(tx, current))) {
    throw new PosternError('FAILED_PRECONDITION', `${current.requester} was deleted after request '${id}' was filed (an account created since under the same name is someone else); deny it.`)
  }
  const policy = await readPolicy(tx, current.resource)
  const next = withGrant(policy, current.requester as Member, current.role as Role, grantCondition(id, expireTime, approver, current.reason))
  await assertPolicyKeepsTests(tx, current.resource, next, now, `Approving access request '${id}'`)
  if (!(await tx.putPolicy(current.resource, next, newEtag(), policy.etag))) throw new PosternError('ABORTED', CONCURRENT_CHANGE)
  const approved: AccessRequestRecord = { ...current, state: 'APPROVED', decider: approver, decideTime: now, grantedSeconds: seconds, expireTime }
  if (!(await tx.updateAccessRequest(approved, 'PENDING'))) throw alreadyDecided(await tx.getAccessRequest(id))
  await tx.recordChange('policy', current.resource)
  await tx.recordChange('accessRequest', id)
  return approved
}

/** A user or service account must be the very account that asked; a federated subject's uid is stable by definition. */
async function requesterStillExists(tx: StoreTx, r: AccessRequestRecord): Promise<boolean> {
  const email = r.requester.slice(r.requester.indexOf(':') + 1)
  if (r.requester.startsWith('user:')) return (await tx.getUser(email))?.uid === r.requesterUid
  if (r.requester.startsWith('serviceAccount:')) return (await tx.getServiceAccount(email))?.uid === r.requesterUid
  return true
}

async function pending(tx: StoreTx, id: string): Promise<AccessRequestRecord> {
  const current = await tx.getAccessRequest(id)
  if (!current) throw notFoundRequest(id)
  if (current.state !== 'PENDING') throw alreadyDecided(current)
  return current
}

function alreadyDecided(r: AccessRequestRecord | undefined): PosternError {
  if (!r) return new PosternError('NOT_FOUND', 'The access request no longer exists.')
  return new PosternError('FAILED_PRECONDITION', `Access request '${r.id}' ${describeState(r)}; only a pending request can be approved or denied.`)
}
