import { PosternError } from '../core/errors.js'
import { leavesNoOwner } from '../iam/owners.js'
import type { Policy, PolicyBody } from '../iam/policy.js'
import { planPolicyWrite } from '../iam/policy-write.js'
import { ORGANIZATION } from '../iam/resources.js'
import type { StoreTx } from '../store/store.js'
import { assertPolicyKeepsTests } from './access-test-guard.js'
import { addedMembers, assertMembersExist } from './known-members.js'

/**
 * Every refusal of a setIamPolicy on a resource that exists, in the order the write meets them: a
 * stale etag or conditions a blind write would lose, an organization left without an owner, an
 * added member with no account, a policy test broken. The write calls it in its transaction; the
 * dry run (`:simulateSetIamPolicy`) calls it to say whether the write would be refused, so a dry
 * run that exits 0 is never followed by a write that fails (and both say it in the same words).
 */
export async function checkPolicyWrite(tx: StoreTx, resource: string, current: Policy, incoming: PolicyBody, etag: string | undefined, now: number): Promise<'unchanged' | 'write'> {
  if (planPolicyWrite(current, incoming, etag) === 'unchanged') return 'unchanged'
  if (resource === ORGANIZATION && leavesNoOwner(current, incoming)) {
    throw new PosternError('FAILED_PRECONDITION', 'The organization must keep an owner: this policy leaves no member holding roles/owner without a condition, and nobody could administer Postern after it.')
  }
  await assertMembersExist(tx, addedMembers(current, incoming))
  await assertPolicyKeepsTests(tx, resource, incoming, now)
  return 'write'
}
