import type { Role } from '../api/types.ts'

/** The members that open a resource to everyone (allUsers) or to every signed-in identity. */
export function publicMembers(members: string[]): string[] {
  return members.filter((m) => m === 'allUsers' || m === 'allAuthenticatedUsers')
}

const WHO: Record<string, string> = {
  allUsers: 'Anyone who can reach the gateway, without signing in (allUsers)',
  allAuthenticatedUsers:
    'Any identity that can sign in to Postern (allAuthenticatedUsers): every user, every service account of every project, and every federated (workforce pool) identity',
}

/**
 * What the "Allow public access?" step says before a grant to allUsers or allAuthenticatedUsers is
 * saved, as Cloud Run's console asks: who gets the role, and what the role lets them do. A role
 * beyond Run Invoker is worded more strongly: it lets the public change things, not just call.
 */
export function PublicGrantWarning({ members, role, resourceLabel }: { members: string[]; role: Role | undefined; resourceLabel: string }) {
  const title = role?.title ?? 'this role'
  const permissions = role?.includedPermissions ?? []
  const beyondInvoke = role !== undefined && role.name !== 'roles/run.invoker'
  return (
    <>
      {members.map((m) => (
        <p key={m}>
          <strong>{WHO[m] ?? m}</strong> will hold <strong>{title}</strong> on <strong>{resourceLabel}</strong>
          {role ? <>, which lets them: {role.description}</> : '.'}
        </p>
      ))}
      {permissions.length > 0 && (
        <p className="help">
          {permissions.length === 1 ? 'Its permission' : `Its ${permissions.length} permissions`}: <span className="mono">{permissions.join(', ')}</span>
        </p>
      )}
      {beyondInvoke && (
        <p className="error-text" role="alert">
          {title} is much more than calling the service: the public could change it, delete it or give access to others. To let anyone call the service, grant Run Invoker instead.
        </p>
      )}
    </>
  )
}
