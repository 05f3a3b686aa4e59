import type { Condition, ResourceType } from './conditions.js'
import type { Member } from './members.js'
import type { PolicyBody } from './policy.js'
import type { Role } from './roles.js'

/**
 * A policy indexed for decisions: role → members granted without a condition (a Set, so a
 * 1,500-member binding costs one lookup) and the conditional bindings (at most 100).
 */
export interface CompiledPolicy {
  resource: string
  type: ResourceType
  /** Increases with every change to this resource's policy; decision caches key on it. */
  version: number
  byRole: ReadonlyMap<Role, RoleGrants>
}

export interface RoleGrants {
  unconditional: ReadonlySet<Member>
  conditional: readonly { members: ReadonlySet<Member>; condition: Condition }[]
}

export function compilePolicy(resource: string, type: ResourceType, policy: PolicyBody, version: number): CompiledPolicy {
  const byRole = new Map<Role, { unconditional: Set<Member>; conditional: RoleGrants['conditional'][number][] }>()
  for (const b of policy.bindings) {
    let grants = byRole.get(b.role)
    if (!grants) byRole.set(b.role, (grants = { unconditional: new Set(), conditional: [] }))
    if (b.condition) grants.conditional.push({ members: new Set(b.members), condition: b.condition })
    else for (const m of b.members) grants.unconditional.add(m)
  }
  return { resource, type, version, byRole }
}
