/** A policy as far as owners go (a PolicyBody, or one as a client wrote it). */
type Bindings = { bindings?: readonly { role: string; members: readonly string[]; condition?: unknown }[] }

export const OWNER_ROLE = 'roles/owner'

/**
 * Who can always administer this Postern: the members holding roles/owner on the organization
 * without a condition (a condition may stop granting; a deleted member grants nothing).
 */
export function standingOwners(organization: Bindings | undefined): string[] {
  const owners = (organization?.bindings ?? []).filter((b) => b.role === OWNER_ROLE && !b.condition).flatMap((b) => b.members)
  return [...new Set(owners.filter((m) => !m.startsWith('deleted:')))]
}

/**
 * Whether a change would leave the organization without a standing owner when it had one: then
 * nobody could grant, create accounts or undo the change, short of `postern serve
 * --reset-owner-password` on the database's machine. (As Google Cloud refuses to remove a
 * project's last owner.) `leaving` is the member an account deletion or disabling takes away.
 */
export function leavesNoOwner(before: Bindings | undefined, after: Bindings | undefined, leaving?: string): boolean {
  if (standingOwners(before).length === 0) return false
  return standingOwners(after).filter((m) => m !== leaving).length === 0
}
