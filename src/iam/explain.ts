import { evaluateCondition } from './conditions.js'
import type { DecisionRequest } from './decide.js'
import { decide, nearestFirst } from './decide.js'
import type { Member } from './members.js'
import { rolesGranting, type Role } from './roles.js'

/**
 * The troubleshooter's view (POST /v1/troubleshoot, `postern services why`): every binding that
 * could grant the permission, whether it names the caller, and how its condition evaluated now.
 */
export interface BindingExplanation {
  resource: string
  role: Role
  condition?: { title: string; expression: string; result: boolean | 'error' }
  /** The members of the binding that name the caller (empty when none does). */
  matchedMembers: Member[]
  grants: boolean
}

export interface Explanation {
  allow: boolean
  reason: ReturnType<typeof decide>['reason']
  bindings: BindingExplanation[]
}

export function explain(req: DecisionRequest): Explanation {
  const out: BindingExplanation[] = []
  for (const policy of nearestFirst(req.policies)) {
    for (const role of rolesGranting(req.permission)) {
      const grants = policy.byRole.get(role)
      if (!grants) continue
      if (grants.unconditional.size) {
        const matched = [...req.members].filter((m) => grants.unconditional.has(m))
        out.push({ resource: policy.resource, role, matchedMembers: matched, grants: matched.length > 0 })
      }
      for (const c of grants.conditional) {
        const matched = [...req.members].filter((m) => c.members.has(m))
        const result = evaluateCondition(c.condition.expression, { now: req.now, resource: req.resource })
        out.push({
          resource: policy.resource,
          role,
          condition: { title: c.condition.title, expression: c.condition.expression, result },
          matchedMembers: matched,
          grants: matched.length > 0 && result === true,
        })
      }
    }
  }
  const { allow, reason } = decide(req)
  return { allow, reason, bindings: out }
}
