/**
 * Pure policy editing for the Permissions panel: parse what a person typed into members, add or
 * remove members of one binding, and lay the effective bindings out by role. No I/O, no React,
 * so the read-modify-write loop can re-apply an edit to a fresh policy as often as it must.
 */
import { addMembers, BindingEditError, removeMember, sameMember } from '../../../src/api/binding-edits.js'
import type { Condition, Policy, Role } from '../api/types.ts'

const SPECIAL = new Set(['allUsers', 'allAuthenticatedUsers'])
const EMAIL_PREFIXED = /^(user|group|serviceAccount|deleted):/i
const DOMAIN_PREFIXED = /^domain:[^\s@:,]+\.[^\s@:,]+$/i
const FEDERATED = /^principal(Set)?:\/\/\S+$/
const EMAIL = /^[^\s@:,]+@[^\s@:,]+\.[^\s@:,]+$/

/**
 * One or more principals, separated by commas or new lines (spaces too: no member holds one).
 * A bare email is a user (DESIGN §7); anything else must already be a member string. The server
 * validates each member again and names the one it refuses.
 */
export function parsePrincipals(text: string): { members: string[]; problems: string[] } {
  const members: string[] = []
  const problems: string[] = []
  const seen = new Set<string>()
  for (const token of text.split(/[\s,;]+/).filter(Boolean)) {
    let member: string | undefined
    if (SPECIAL.has(token) || FEDERATED.test(token)) member = token
    else if (DOMAIN_PREFIXED.test(token)) member = `domain:${token.slice(7)}`
    else if (EMAIL_PREFIXED.test(token)) {
      const colon = token.indexOf(':')
      // deleted: members carry more after the email (`deleted:user:EMAIL?uid=…`); the server checks those.
      if (/^deleted:/i.test(token) || EMAIL.test(token.slice(colon + 1))) member = canonicalPrefix(token.slice(0, colon + 1)) + token.slice(colon + 1)
    } else if (EMAIL.test(token)) member = `user:${token}`
    if (!member) {
      problems.push(`“${token}” is not an email address or a member such as group:team@example.com.`)
      continue
    }
    const key = member.toLowerCase()
    if (!seen.has(key)) {
      seen.add(key)
      members.push(member)
    }
  }
  return { members, problems }
}

function canonicalPrefix(prefix: string): string {
  const lower = prefix.toLowerCase()
  return lower === 'serviceaccount:' ? 'serviceAccount:' : lower
}

/** A condition's identity, as the server and the CLI match it (binding-edits.ts sameCondition): expression, title and description. */
export function conditionKey(condition: Condition | undefined): string {
  return condition ? JSON.stringify([condition.expression, condition.title, condition.description || '']) : ''
}

/** Grants `role` (without a condition) to `members`; members who already hold it are left as they are. */
export function grantRole(policy: Policy, role: string, members: string[]): Policy {
  return addMembers(policy, members, role)
}

/**
 * A member as the server stored it after a grant: it lowercases emails (`User:Dev@Example.COM` is
 * kept as `user:dev@example.com`), and a message should name what the policy now holds.
 */
export function storedMember(policy: Policy, role: string, member: string): string {
  const binding = (policy.bindings ?? []).find((b) => b.role === role && !b.condition)
  return binding?.members.find((m) => sameMember(m, member)) ?? member
}

/** What a grant did: who was granted the role, and who already held it (for whom nothing was written). */
export function grantMessage(title: string, resource: string, granted: string[], alreadyHeld: string[]): string {
  const said: string[] = []
  if (granted.length) said.push(`Granted ${title} to ${granted.join(', ')}.`)
  if (alreadyHeld.length) {
    said.push(`${alreadyHeld.join(', ')} already held ${title} on ${resource}; ${granted.length ? 'nothing changed for them' : 'nothing was changed'}.`)
  }
  return said.join(' ')
}

/** The binding a person chose to remove from has changed since it was shown; nothing was written. */
export class StaleBindingError extends Error {
  override readonly name = 'StaleBindingError'
}

/**
 * Revokes `role` under one condition from `member`; the binding goes when it is left empty. A
 * member someone else removed in between leaves the policy as it is. A member who still holds the
 * role, but now under another condition (someone retitled or rewrote it meanwhile), is a
 * StaleBindingError: removing that binding is a decision the person has not seen.
 */
export function revokeRole(policy: Policy, role: string, condition: Condition | undefined, member: string): Policy {
  try {
    return removeMember(policy, member, role, condition ?? 'none')
  } catch (err) {
    if (!(err instanceof BindingEditError && err.reason === 'not-found')) throw err
    // Every grant of the role the member holds now, not just the first: with an unconditional grant
    // beside a retitled conditional one, naming only the first would explain the wrong change.
    const holdings = (policy.bindings ?? []).filter((b) => b.role === role && b.members.some((m) => sameMember(m, member)))
    if (holdings.length === 0) return policy
    const now = holdings.map((b) => underCondition(b.condition)).join(' and ')
    throw new StaleBindingError(
      `Nothing was removed: the policy changed since it was shown. The grant you chose, ${member} ${underCondition(condition)}, is no longer there as shown; ` +
        `${member} now holds this role ${now}. Review the current permissions below and remove the grant you mean, if you still mean to.`,
    )
  }
}

/** How a message names the condition a grant is under (or that it has none). */
export function underCondition(condition: Condition | undefined): string {
  return condition ? `under the condition “${condition.title ?? condition.expression}”` : 'without a condition'
}

/** Where a binding comes from: the resource itself or one of its ancestors (DESIGN §1). */
export interface PolicySource {
  kind: 'service' | 'project' | 'organization'
  /** What a person calls it: "project my-project". */
  label: string
  policy: Policy
}

export interface RoleGroup {
  role: string
  title: string
  description: string
  condition: Condition | undefined
  conditionKey: string
  entries: { member: string; inheritedFrom?: string }[]
}

/** Effective bindings laid out by role (catalogue order), own members before inherited ones. */
export function groupByRole(sources: PolicySource[], roles: Role[]): RoleGroup[] {
  const groups = new Map<string, RoleGroup>()
  for (const source of sources) {
    for (const b of source.policy.bindings ?? []) {
      const key = `${b.role}\n${conditionKey(b.condition)}`
      let group = groups.get(key)
      if (!group) {
        const role = roles.find((r) => r.name === b.role)
        group = { role: b.role, title: role?.title ?? b.role, description: role?.description ?? '', condition: b.condition, conditionKey: conditionKey(b.condition), entries: [] }
        groups.set(key, group)
      }
      for (const member of b.members) {
        group.entries.push(source.kind === 'service' ? { member } : { member, inheritedFrom: source.label })
      }
    }
  }
  const order = (role: string) => {
    const i = roles.findIndex((r) => r.name === role)
    return i < 0 ? roles.length : i
  }
  return [...groups.values()]
    .map((g) => ({ ...g, entries: g.entries.sort((a, b) => Number(Boolean(a.inheritedFrom)) - Number(Boolean(b.inheritedFrom)) || a.member.localeCompare(b.member)) }))
    .sort((a, b) => order(a.role) - order(b.role) || a.role.localeCompare(b.role) || a.conditionKey.localeCompare(b.conditionKey))
}

export type MemberKind = 'User' | 'Group' | 'Service account' | 'Domain' | 'Everyone' | 'All signed-in users' | 'Federated' | 'Deleted' | 'Other'

/** How a member string reads to a person: its kind and the identity it names. */
export function describeMember(member: string): { kind: MemberKind; id: string } {
  if (member === 'allUsers') return { kind: 'Everyone', id: 'allUsers (anyone, without signing in)' }
  if (member === 'allAuthenticatedUsers') return { kind: 'All signed-in users', id: 'allAuthenticatedUsers' }
  if (member.startsWith('principal://') || member.startsWith('principalSet://')) return { kind: 'Federated', id: member }
  const colon = member.indexOf(':')
  const prefix = member.slice(0, colon)
  const id = member.slice(colon + 1)
  switch (prefix) {
    case 'user':
      return { kind: 'User', id }
    case 'group':
      return { kind: 'Group', id }
    case 'serviceAccount':
      return { kind: 'Service account', id }
    case 'domain':
      return { kind: 'Domain', id }
    case 'deleted':
      return { kind: 'Deleted', id }
    default:
      return { kind: 'Other', id: member }
  }
}

