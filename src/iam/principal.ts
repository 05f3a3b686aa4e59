import type { GroupIndex } from './groups.js'
import { ATTRIBUTE_NAME, emailMember, FEDERATION_PREFIX, type Member } from './members.js'

/** Who is asking, as established by authentication. */
export type Principal =
  | { kind: 'anonymous' }
  | { kind: 'user' | 'serviceAccount'; email: string; uid: string }
  | {
      kind: 'federated'
      pool: string
      subject: string
      uid: string
      email?: string
      groups: readonly string[]
      attributes: Readonly<Record<string, string>>
    }

export function principalMember(p: Principal): Member | undefined {
  switch (p.kind) {
    case 'anonymous':
      return undefined
    case 'user':
    case 'serviceAccount':
      // Bindings hold lowercased emails (DESIGN §1: emails compare case-insensitively).
      return emailMember(p.kind, p.email.toLowerCase())
    case 'federated':
      return `principal://${FEDERATION_PREFIX}${p.pool}/subject/${p.subject}`
  }
}

export function describePrincipal(p: Principal): string {
  return principalMember(p) ?? 'an unauthenticated caller'
}

/**
 * Every member string a binding could use to name this principal: itself, its domain, its
 * groups (transitively), its federated sets, allAuthenticatedUsers and allUsers. Bindings are then
 * checked by set lookups, never by walking the principal's groups per binding.
 */
export function principalMembers(p: Principal, groups: GroupIndex): Set<Member> {
  const out = new Set<Member>(['allUsers'])
  const self = principalMember(p)
  if (!self || p.kind === 'anonymous') return out
  out.add('allAuthenticatedUsers')
  out.add(self)
  if (p.kind === 'user') out.add(`domain:${p.email.slice(p.email.lastIndexOf('@') + 1).toLowerCase()}`)
  if (p.kind === 'federated') {
    const base = `principalSet://${FEDERATION_PREFIX}${p.pool}` as const
    out.add(`${base}/*`)
    for (const g of p.groups) out.add(`${base}/group/${g}`)
    for (const [name, value] of Object.entries(p.attributes)) {
      // A name with '/' would read as another attribute: {'a/b': 'c'} as attribute.a = 'b/c'.
      if (ATTRIBUTE_NAME.test(name)) out.add(`${base}/attribute.${name}/${value}`)
    }
  }
  for (const g of groups.groupsOf(self)) out.add(emailMember('group', g))
  return out
}
