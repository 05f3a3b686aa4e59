import { useRoles } from '../iam/use-roles.ts'

/**
 * Says which role would allow what the person cannot do here, instead of leaving them to wonder
 * why a button is missing: the narrowest predefined role that includes the permission.
 */
export function RoleHint({ permission, action, on }: { permission: string; action: string; on: string }) {
  const roles = useRoles()
  const role = roles.filter((r) => r.includedPermissions.includes(permission)).sort((a, b) => a.includedPermissions.length - b.includedPermissions.length)[0]
  if (!role) return null
  // Roles on the organization are granted by its owners or admins, not by a project's owner.
  const who = on === 'the organization' ? 'an organization owner or admin' : 'an owner'
  return <p className="help role-hint">To {action}, ask {who} for {role.title} (<span className="mono">{role.name}</span>) on {on}.</p>
}
