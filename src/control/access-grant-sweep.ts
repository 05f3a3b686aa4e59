import { retryOnConflict } from '../api/read-modify-write.js'
import { PosternError } from '../core/errors.js'
import type { Logger } from '../core/log.js'
import { withoutGrant } from '../iam/access-grants.js'
import { newEtag, samePolicy } from '../iam/policy.js'
import { CONCURRENT_CHANGE } from '../iam/policy-write.js'
import type { Store } from '../store/store.js'
import { readPolicy } from './routes/iam-policy.js'

/**
 * Removes the bindings of access grants that have ended (their conditions already grant nothing:
 * this keeps policies readable and within the limit of 100 conditional bindings) and marks the
 * requests EXPIRED, with an audit entry. Every process may run it at the same time: the state's
 * compare-and-set in the same transaction as the policy write makes each removal happen once, and
 * a process that loses the race writes nothing.
 */
export async function sweepEndedGrants(store: Store, now: number, log: Logger): Promise<number> {
  let ended = 0
  for (const r of await store.listEndedGrants(now, 100)) {
    try {
      if (await endGrant(store, r.id, now)) ended++
    } catch (err) {
      log.log('warn', 'could not remove an ended access grant', { request: r.id, err: String(err) })
    }
  }
  return ended
}

async function endGrant(store: Store, id: string, now: number): Promise<boolean> {
  return retryOnConflict(
    () =>
      store.transaction(async (tx) => {
        const r = await tx.getAccessRequest(id)
        if (!r || r.state !== 'APPROVED' || r.expireTime === null || r.expireTime > now) return false
        const policy = await readPolicy(tx, r.resource)
        const next = withoutGrant(policy, id)
        const removed = !samePolicy(policy, next)
        if (removed) {
          if (!(await tx.putPolicy(r.resource, next, newEtag(), policy.etag))) throw new PosternError('ABORTED', CONCURRENT_CHANGE)
          await tx.recordChange('policy', r.resource)
        }
        // Another process ended it in between: start over, and find nothing left to do.
        if (!(await tx.updateAccessRequest({ ...r, state: 'EXPIRED', endTime: now }, 'APPROVED'))) throw new PosternError('ABORTED', CONCURRENT_CHANGE)
        await tx.recordChange('accessRequest', id)
        await tx.appendAudit({
          time: now,
          principal: 'system',
          method: 'accessRequests.expire',
          resource: r.resource,
          outcome: 'OK',
          details: { request: id, member: r.requester, role: r.role, expireTime: new Date(r.expireTime).toISOString(), bindingRemoved: removed },
        })
        return true
      }),
    { attempts: 5 },
  )
}
