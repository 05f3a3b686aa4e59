import type { Binding, Condition, Policy } from './types.js'

/**
 * The edits `add-iam-policy-binding` and `remove-iam-policy-binding` make, with gcloud's meaning:
 * adding a member who already holds the role (under that condition) changes nothing; removing
 * the last member drops the binding; a condition is matched by its expression, title and
 * description, as gcloud's and the server's (a binding's identity includes all three). Pure, so
 * a read-modify-write can re-apply an edit to a fresh policy as often as it must. The server
 * normalises what it is sent; these keep the rest of the policy exactly as it was read.
 */

/** Which bindings a removal applies to: the unconditional one, every one, or one condition. */
export type ConditionChoice = Condition | 'none' | 'all'

export class BindingEditError extends Error {
  override readonly name = 'BindingEditError'
  constructor(
    /** `not-found`: nothing to remove; `ambiguous`: the member holds the role under a condition and the caller must say which. */
    readonly reason: 'not-found' | 'ambiguous',
    message: string,
  ) {
    super(message)
  }
}

export function sameCondition(a: Condition | undefined, b: Condition | undefined): boolean {
  if (!a || !b) return !a && !b
  // The server keeps no empty description: absent and empty are one.
  return a.expression === b.expression && a.title === b.title && (a.description || '') === (b.description || '')
}

/** Emails are case-blind (the server lowercases them); federated subjects and the rest are not. */
export function sameMember(a: string, b: string): boolean {
  if (a === b) return true
  const email = /^(user|group|serviceAccount|domain):/i
  return email.test(a) && email.test(b) && a.toLowerCase() === b.toLowerCase()
}

const withVersion = <P extends Policy>(policy: P, bindings: Binding[]): P =>
  ({ ...policy, bindings, ...(bindings.some((b) => b.condition) && { version: 3 }) }) as P

/** Grants `role` to `member` (under `condition`); returns the same policy object when it already holds it. */
export function addMember<P extends Policy>(policy: P, member: string, role: string, condition?: Condition): P {
  const bindings: Binding[] = [...(policy.bindings ?? [])]
  const i = bindings.findIndex((b) => b.role === role && sameCondition(b.condition, condition))
  const target = bindings[i]
  if (target?.members.some((m) => sameMember(m, member))) return policy
  if (target) bindings[i] = { ...target, members: [...target.members, member] }
  else bindings.push({ role, members: [member], ...(condition && { condition }) })
  return withVersion(policy, bindings)
}

/** Grants `role` to each of `members`; the same policy object when all of them already hold it. */
export function addMembers<P extends Policy>(policy: P, members: readonly string[], role: string, condition?: Condition): P {
  return members.reduce((p, m) => addMember(p, m, role, condition), policy)
}

/**
 * Revokes `role` from `member`. Like gcloud, without a choice it is ambiguous when the member
 * holds the role under a condition; a binding left without members goes.
 */
export function removeMember<P extends Policy>(policy: P, member: string, role: string, which?: ConditionChoice): P {
  const holds = (b: Binding) => b.role === role && b.members.some((m) => sameMember(m, member))
  const holding = (policy.bindings ?? []).filter(holds)
  const choice = which ?? (holding.some((b) => b.condition) ? undefined : 'none')
  if (holding.length > 0 && !choice) {
    throw new BindingEditError('ambiguous', `${member} holds ${role} under a condition; say which with --condition, --condition=None or --all.`)
  }
  const matches = (b: Binding) => holds(b) && (choice === 'all' || (choice === 'none' ? !b.condition : sameCondition(b.condition, choice)))
  if (!holding.some(matches)) {
    throw new BindingEditError('not-found', `Policy binding with the specified principal, role, and condition not found: ${member} does not hold ${role}.`)
  }
  const bindings = (policy.bindings ?? [])
    .map((b) => (matches(b) ? { ...b, members: b.members.filter((m) => !sameMember(m, member)) } : b))
    .filter((b) => b.members.length > 0)
  return { ...policy, bindings } as P
}

/** Whether two policies hold the same bindings in the same order (what a write would change). */
export function sameBindings(a: Policy, b: Policy): boolean {
  return JSON.stringify(a.bindings ?? []) === JSON.stringify(b.bindings ?? [])
}
