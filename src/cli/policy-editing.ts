import { CliError, usageError } from './errors.js'
import type { Api } from './api.js'

export interface Condition {
  title: string
  expression: string
  description?: string
}

export interface Binding {
  role: string
  members: string[]
  condition?: Condition
}

export interface Policy {
  version?: number
  bindings?: Binding[]
  etag?: string
}

/**
 * `--condition expression=EXPR,title=T[,description=D]` or `--condition=None`, as gcloud takes it.
 * An expression may itself contain commas, so the value is split only before a known key.
 */
export function parseConditionFlag(raw: string | undefined): Condition | 'none' | undefined {
  if (raw === undefined) return undefined
  if (raw === 'None' || raw === 'none') return 'none'
  const fields: Record<string, string> = {}
  for (const part of raw.split(/,(?=\s*(?:expression|title|description)=)/)) {
    const eq = part.indexOf('=')
    const key = part.slice(0, eq).trim()
    if (eq < 0 || !['expression', 'title', 'description'].includes(key)) throw usageError(`--condition: expected expression=…,title=…[,description=…], got '${raw}'.`)
    fields[key] = part.slice(eq + 1)
  }
  if (!fields.expression || !fields.title) throw usageError('--condition needs both expression= and title=.')
  return { expression: fields.expression, title: fields.title, ...(fields.description && { description: fields.description }) }
}

const sameCondition = (a?: Condition, b?: Condition) =>
  (!a && !b) || (a !== undefined && b !== undefined && a.expression === b.expression && a.title === b.title && (a.description ?? '') === (b.description ?? ''))

export function withBinding(policy: Policy, member: string, role: string, condition?: Condition): Policy | 'unchanged' {
  const bindings = [...(policy.bindings ?? [])]
  const i = bindings.findIndex((b) => b.role === role && sameCondition(b.condition, condition))
  if (i >= 0 && bindings[i]!.members.includes(member)) return 'unchanged'
  if (i >= 0) bindings[i] = { ...bindings[i]!, members: [...bindings[i]!.members, member] }
  else bindings.push({ role, members: [member], ...(condition && { condition }) })
  return { ...policy, bindings, ...(condition && { version: 3 }) }
}

export function withoutBinding(policy: Policy, member: string, role: string, which: Condition | 'none' | 'all' | undefined): Policy {
  const holding = (policy.bindings ?? []).filter((b) => b.role === role && b.members.includes(member))
  if (holding.length === 0) throw new CliError(`ERROR: Policy binding with the specified principal, role, and condition not found!`)
  const selector = which ?? (holding.some((b) => b.condition) ? undefined : 'none')
  if (!selector) throw usageError(`${member} holds ${role} under a condition; say which with --condition, --condition=None or --all.`)
  const matches = (b: Binding) =>
    b.role === role && b.members.includes(member) && (selector === 'all' || (selector === 'none' ? !b.condition : sameCondition(b.condition, selector)))
  if (!holding.some(matches)) throw new CliError(`ERROR: Policy binding with the specified principal, role, and condition not found!`)
  const bindings = (policy.bindings ?? []).map((b) => (matches(b) ? { ...b, members: b.members.filter((m) => m !== member) } : b)).filter((b) => b.members.length)
  return { ...policy, bindings }
}

/**
 * Read, change, write with the etag; on ABORTED (someone else wrote in between) start over after
 * an exponential, jittered pause — so concurrent edits never lose a binding (DESIGN §6).
 */
export async function readModifyWrite(api: Api, resourcePath: string, edit: (p: Policy) => Policy | 'unchanged'): Promise<Policy> {
  for (let attempt = 0; ; attempt++) {
    const current = await api.call<Policy>('POST', `${resourcePath}:getIamPolicy`, {}, { idempotent: true })
    const next = edit(current)
    if (next === 'unchanged') return current
    try {
      // Safe to resend: had the first landed, the etag would no longer match (ABORTED, re-read).
      return await api.call<Policy>('POST', `${resourcePath}:setIamPolicy`, { policy: { ...next, etag: current.etag } }, { idempotent: true })
    } catch (err) {
      if (!(err instanceof CliError) || err.status !== 'ABORTED' || attempt >= 60) throw err
      const pause = Math.min(2_000, 20 * 2 ** Math.min(attempt, 7)) * (0.5 + Math.random())
      await new Promise((r) => setTimeout(r, pause))
    }
  }
}

/**
 * Postern refuses local users, groups and service accounts that do not exist; these it cannot
 * check, so the CLI says so rather than let a typo pass as a grant.
 */
export function uncheckedMemberNote(member: string): string | undefined {
  if (/^domain:/i.test(member)) return `Note: ${member} cannot be checked (Postern keeps no list of domains); it grants every local user whose email ends in @${member.slice('domain:'.length)}. Make sure it is spelled right.`
  if (/^principal(Set)?:\/\//i.test(member)) return `Note: ${member} cannot be checked: federated subjects, groups and attributes are known only to the identity provider. Make sure it is spelled right.`
  return undefined
}
