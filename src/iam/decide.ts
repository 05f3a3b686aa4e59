import { evaluateCondition, type ResourceType } from './conditions.js'
import type { CompiledPolicy } from './compiled-policy.js'
import type { Member } from './members.js'
import { ORGANIZATION } from './resources.js'
import { rolesGranting, type Permission, type Role } from './roles.js'

/**
 * The access decision, pure: the policies that apply to a resource (the resource's own and those
 * it inherits, DESIGN §1), the members that name the caller, the permission and `now` in; allow or
 * deny with a reason from a fixed list, and the binding that granted.
 */
export type Reason = 'granted' | 'public' | 'no-binding' | 'condition-false' | 'condition-error'

export interface Grant {
  resource: string
  role: Role
  member: Member
  condition?: { title: string; expression: string }
}

export interface Decision {
  allow: boolean
  reason: Reason
  grantedBy?: Grant
}

export interface DecisionRequest {
  /** Policies of the resource and its ancestors; order does not change the verdict. */
  policies: readonly CompiledPolicy[]
  members: ReadonlySet<Member>
  permission: Permission
  resource: { name: string; type: ResourceType }
  now: number
}

export function decide(req: DecisionRequest): Decision {
  const roles = rolesGranting(req.permission)
  // Nearest resource first whatever order the caller used, so `reason` and `grantedBy` (not
  // only `allow`) are the same for the same policies: 'public' vs 'granted' must not flip.
  const policies = nearestFirst(req.policies)
  let denial: Reason = 'no-binding'
  // Unconditional grants first: they need no CEL.
  for (const policy of policies) {
    for (const role of roles) {
      const grants = policy.byRole.get(role)
      if (!grants) continue
      for (const member of req.members) {
        if (grants.unconditional.has(member)) {
          return { allow: true, reason: member === 'allUsers' ? 'public' : 'granted', grantedBy: { resource: policy.resource, role, member } }
        }
      }
    }
  }
  for (const policy of policies) {
    for (const role of roles) {
      for (const c of policy.byRole.get(role)?.conditional ?? []) {
        const member = firstShared(c.members, req.members)
        if (!member) continue
        const result = evaluateCondition(c.condition.expression, { now: req.now, resource: req.resource })
        if (result === true) {
          const condition = { title: c.condition.title, expression: c.condition.expression }
          return { allow: true, reason: 'granted', grantedBy: { resource: policy.resource, role, member, condition } }
        }
        if (result === 'error') denial = 'condition-error'
        else if (denial === 'no-binding') denial = 'condition-false'
      }
    }
  }
  return { allow: false, reason: denial }
}

/** Sorts by depth (service, then project, then organization), then by name; copies only when needed. */
export function nearestFirst(policies: readonly CompiledPolicy[]): readonly CompiledPolicy[] {
  for (let i = 1; i < policies.length; i++) {
    if (compareNearest(policies[i - 1]!, policies[i]!) > 0) return [...policies].sort(compareNearest)
  }
  return policies
}

function compareNearest(a: CompiledPolicy, b: CompiledPolicy): number {
  return depth(b.resource) - depth(a.resource) || (a.resource < b.resource ? -1 : a.resource > b.resource ? 1 : 0)
}

const depth = (resource: string) => (resource === ORGANIZATION ? 0 : resource.split('/').length)

function firstShared(binding: ReadonlySet<Member>, caller: ReadonlySet<Member>): Member | undefined {
  for (const m of caller) if (binding.has(m)) return m
  return undefined
}
