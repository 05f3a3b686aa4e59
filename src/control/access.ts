import { denied } from '../core/errors.js'
import { decide, type Decision } from '../iam/decide.js'
import { principalMembers, type Principal } from '../iam/principal.js'
import { resourceType } from '../iam/resources.js'
import { narrowestRoleGranting, type Permission } from '../iam/roles.js'
import type { Directory } from '../directory/directory.js'
import type { Caller } from './caller.js'

/** Decides `permission` on `resource` for a principal from the directory's current policies. */
export function check(directory: Directory, principal: Principal, permission: Permission, resource: string, now: number): Decision {
  return decide({
    policies: directory.policyChain(resource),
    members: principalMembers(principal, directory.groups),
    permission,
    resource: { name: resource, type: resourceType(resource) },
    now,
  })
}

/** Throws PERMISSION_DENIED naming the principal, the permission, the resource and, when given, why it is needed. */
export function authorize(directory: Directory, caller: Caller, permission: Permission, resource: string, now: number, because?: string): void {
  if (check(directory, caller.principal, permission, resource, now).allow) return
  // Say what to ask for: the narrowest role that would allow it.
  const role = narrowestRoleGranting(permission)
  const ask = role ? ` A role that allows it: ${role.title} (${role.name}).` : ''
  const why = because ? `: ${because}.` : ' (or it may not exist).'
  throw denied(`Permission '${permission}' denied on resource '${resource}' for ${caller.member}${why.replace(/\.\.$/, '.')}${ask}`)
}
