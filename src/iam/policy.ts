import { randomBytes } from 'node:crypto'
import type { Binding as WireBinding } from '../api/types.js'
import { invalid } from '../core/errors.js'
import { parseCondition, type Condition } from './conditions.js'
import { parseMember, type Member } from './members.js'
import { grantableOn, parseRole, rolesGrantableOn, type Role } from './roles.js'
import type { ResourceType } from './conditions.js'

/** IAM policy in Google's IAM v1 shape, DESIGN §1: the wire's binding, its members and role parsed. */
export type Binding = WireBinding<Member, Role>

export interface PolicyBody {
  version: 1 | 3
  bindings: Binding[]
}

export interface Policy extends PolicyBody {
  etag: string
}

export const LIMITS = { members: 1_500, conditionalBindings: 100, bindings: 1_500 } as const

/** The etag of a resource that never had a policy (as Google's). */
export const EMPTY_ETAG = 'ACAB'

export const emptyPolicy = (): Policy => ({ version: 1, bindings: [], etag: EMPTY_ETAG })

export function newEtag(): string {
  return 'Bw' + randomBytes(9).toString('base64url')
}

/**
 * Validates a policy from the wire and returns its canonical form: members parsed and
 * deduplicated, bindings with the same role and condition merged, empty bindings dropped, all
 * sorted. Normalising twice changes nothing; two policies that grant the same thing in the same
 * way normalise to the same value.
 */
export function normalizePolicy(raw: unknown): PolicyBody {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw invalid('policy must be an object.')
  const { version, bindings, etag, auditConfigs: _audit, ...rest } = raw as Record<string, unknown>
  const extra = Object.keys(rest)
  if (extra.length) throw invalid(`Unknown policy field '${extra[0]}'.`)
  // (A number would be read as an etag that never matches: ABORTED, as if someone else had written.)
  if (etag !== undefined && typeof etag !== 'string') throw invalid('policy.etag must be a string: the etag get-iam-policy returned.')
  if (version !== undefined && version !== 0 && version !== 1 && version !== 3) throw invalid('policy.version must be 1 or 3.')
  if (bindings !== undefined && !Array.isArray(bindings)) throw invalid('policy.bindings must be a list.')
  if ((bindings?.length ?? 0) > LIMITS.bindings) throw invalid(`A policy may have at most ${LIMITS.bindings} bindings.`)
  return canonical((bindings ?? []).map(parseBinding))
}

const TYPE_NAMES: Record<ResourceType, string> = {
  'run.postern/Service': 'a service',
  'iam.postern/ServiceAccount': 'a service account',
  'postern.project/Project': 'a project',
  'postern.organization/Organization': 'the organization',
}

/** Refuses roles that mean nothing on this kind of resource, naming those that apply (INVALID_ARGUMENT). */
export function checkRolesGrantable(policy: PolicyBody, type: ResourceType): void {
  const refused = [...new Set(policy.bindings.map((b) => b.role).filter((role) => !grantableOn(role, type)))]
  if (!refused.length) return
  const where = TYPE_NAMES[type]
  throw invalid(
    `${refused.join(', ')} cannot be granted on ${where}: ${refused.length === 1 ? 'it applies' : 'they apply'} higher up (grant ${refused.length === 1 ? 'it' : 'them'} on the project or the organization). Roles that can be granted on ${where}: ${rolesGrantableOn(type).join(', ')}.`,
  )
}

function parseBinding(raw: unknown, index: number): Binding {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw invalid(`policy.bindings[${index}] must be an object.`)
  const { role, members, condition, ...rest } = raw as Record<string, unknown>
  const extra = Object.keys(rest)
  if (extra.length) throw invalid(`Unknown field '${extra[0]}' in policy.bindings[${index}].`)
  if (!Array.isArray(members)) throw invalid(`policy.bindings[${index}].members must be a list.`)
  if (members.length > LIMITS.members) throw invalid(`A policy may have at most ${LIMITS.members} members.`)
  const binding: Binding = { role: parseRole(role), members: members.map(parseMember) }
  if (condition !== undefined && condition !== null) binding.condition = parseCondition(condition)
  return binding
}

/** Merges, deduplicates, sorts and enforces limits. Input members and roles are already parsed. */
export function canonical(bindings: readonly Binding[]): PolicyBody {
  const merged = new Map<string, { role: Role; members: Set<Member>; condition?: Condition }>()
  for (const b of bindings) {
    const key = bindingKey(b.role, b.condition)
    let entry = merged.get(key)
    if (!entry) {
      entry = { role: b.role, members: new Set() }
      if (b.condition) entry.condition = canonicalCondition(b.condition)
      merged.set(key, entry)
    }
    for (const m of b.members) entry.members.add(m)
  }
  const out: Binding[] = []
  let members = 0
  let conditional = 0
  for (const [, e] of [...merged].sort(([a], [b]) => compare(a, b))) {
    if (e.members.size === 0) continue
    members += e.members.size
    if (e.condition) conditional++
    const binding: Binding = { role: e.role, members: [...e.members].sort(compare) }
    if (e.condition) binding.condition = e.condition
    out.push(binding)
  }
  if (members > LIMITS.members) throw invalid(`A policy may have at most ${LIMITS.members} members; this one has ${members}.`)
  if (conditional > LIMITS.conditionalBindings) {
    throw invalid(`A policy may have at most ${LIMITS.conditionalBindings} conditional bindings; this one has ${conditional}.`)
  }
  return { version: conditional > 0 ? 3 : 1, bindings: out }
}

function canonicalCondition(c: Condition): Condition {
  return c.description ? { title: c.title, description: c.description, expression: c.expression } : { title: c.title, expression: c.expression }
}

export function bindingKey(role: Role, condition?: Condition): string {
  return condition ? `${role}\u0000${condition.expression}\u0000${condition.title}\u0000${condition.description ?? ''}` : role
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

export function samePolicy(a: PolicyBody, b: PolicyBody): boolean {
  return JSON.stringify(a.bindings) === JSON.stringify(b.bindings)
}

export function hasConditions(p: PolicyBody): boolean {
  return p.bindings.some((b) => b.condition)
}

/** Rewrites every occurrence of `from` (used when an identity is deleted, DESIGN §1). */
export function replaceMember(policy: PolicyBody, from: Member, to: Member): PolicyBody {
  return canonical(policy.bindings.map((b) => ({ ...b, members: b.members.map((m) => (m === from ? to : m)) })))
}

export function containsMember(policy: PolicyBody, member: Member): boolean {
  return policy.bindings.some((b) => b.members.includes(member))
}
