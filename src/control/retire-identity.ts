import { deletedMember, emailMember, type EmailKind } from '../iam/members.js'
import { newEtag, replaceMember } from '../iam/policy.js'
import type { StoreTx } from '../store/store.js'

/**
 * What deleting a user, group or service account does to everything that named it (DESIGN §1):
 * its bindings become `deleted:KIND:EMAIL?uid=UID` and grant nothing, it leaves every group, and
 * its sessions and refresh tokens stop at once. A new identity with the same email starts with
 * nothing. Runs inside the deleting transaction.
 */
export async function retireIdentity(tx: StoreTx, kind: EmailKind, email: string, uid: string): Promise<void> {
  const member = emailMember(kind, email)
  const tombstone = deletedMember(kind, email, uid)
  for (const record of await tx.findPoliciesMentioning(member)) {
    const rewritten = replaceMember(record.policy, member, tombstone)
    if (JSON.stringify(rewritten) === JSON.stringify(record.policy)) continue
    await tx.putPolicy(record.resource, rewritten, newEtag(), record.etag)
    await tx.recordChange('policy', record.resource)
  }
  for (const group of await tx.removeMemberEverywhere(member)) await tx.recordChange('group', group)
  await tx.revokeRefreshTokensOf(uid)
  await tx.deleteSessionsOf(uid)
}
