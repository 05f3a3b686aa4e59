import { Environment } from '@marcbachmann/cel-js'
import { BoundedCache } from '../../core/bounded-cache.js'
import { invalid } from '../../core/errors.js'
import { celErrorLine, checkCelCost, registerLinearMatches, useLinearMatches } from '../../iam/cel-bounds.js'
import { ATTRIBUTE_NAME, printable } from '../../iam/members.js'

/**
 * Attribute mapping and attribute condition of a workforce provider: CEL over the
 * verified external token's claims (`assertion.*`), with the same library as IAM Conditions.
 * Expressions are compiled when a provider is written, so a mapping that cannot parse is refused
 * then, not discovered at sign-in; their cost is bounded then too, and `matches()` is RE2 (linear
 * time), since the claims it reads are the identity provider's to choose. Pure.
 */
export type MappingTarget = 'postern.subject' | 'postern.groups' | 'postern.display_name' | `attribute.${string}`

export interface MappedIdentity {
  subject: string
  groups: string[]
  displayName: string
  attributes: Record<string, string>
  /** Targets whose expression failed or gave an unusable value, so were left out (said in the audit log). */
  skipped: string[]
}

export type MappingOutcome = { ok: true; identity: MappedIdentity } | { ok: false; reason: string }

/** Subjects, group names and attribute values that a member string can hold (DESIGN §1). */
const MEMBER_VALUE = /^[\x21-\x7e]{1,127}$/
const LIMITS = { mappings: 50, expression: 2_048, condition: 4_096, groups: 400, attributes: 50 }

const env = registerLinearMatches(
  new Environment({
    limits: { maxAstNodes: 500, maxDepth: 32, maxListElements: 1_000, maxMapEntries: 200, maxCallArguments: 8 },
  }),
)
  .registerVariable('assertion', 'map')
  .registerVariable('postern', 'map')
  .registerVariable('attribute', 'map')

type Compiled = (vars: Record<string, unknown>) => unknown

function compile(expression: string, what: string, allowed: (type: string) => boolean, expected: string): void {
  let parsed: ReturnType<typeof env.parse>
  try {
    parsed = env.parse(expression)
  } catch (err) {
    throw invalid(`${what} does not parse: ${celErrorLine(err).slice(0, 300)}`)
  }
  checkCelCost(parsed.ast, what)
  useLinearMatches(parsed.ast)
  const check = parsed.check()
  if (!check.valid) throw invalid(`${what} is not valid: ${celErrorLine(check.error).slice(0, 300)}`)
  const type = String(check.type)
  if (!allowed(type)) throw invalid(`${what} must be ${expected}, not ${type}.`)
}

const isTarget = (key: string): key is MappingTarget =>
  key === 'postern.subject' || key === 'postern.groups' || key === 'postern.display_name' || (key.startsWith('attribute.') && ATTRIBUTE_NAME.test(key.slice(10)))

/** Validates a mapping (INVALID_ARGUMENT says which entry is wrong); returns it in canonical key order. */
export function parseAttributeMapping(raw: unknown): Record<string, string> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw invalid('attributeMapping must be an object of TARGET: EXPRESSION.')
  const entries = Object.entries(raw as Record<string, unknown>)
  if (entries.length > LIMITS.mappings) throw invalid(`attributeMapping may have at most ${LIMITS.mappings} entries.`)
  const out: Record<string, string> = {}
  for (const [key, expression] of entries.sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (!isTarget(key)) {
      throw invalid(`attributeMapping: '${printable(key)}' is not a target; use postern.subject, postern.groups, postern.display_name or attribute.NAME (NAME: lowercase letters, digits, _).`)
    }
    if (typeof expression !== 'string' || !expression.trim()) throw invalid(`attributeMapping: ${key} needs a CEL expression.`)
    if (expression.length > LIMITS.expression) throw invalid(`attributeMapping: ${key} may have at most ${LIMITS.expression} characters.`)
    const what = `attributeMapping ${key}`
    if (key === 'postern.groups') compile(expression, what, (t) => t === 'dyn' || t.startsWith('list'), 'a list')
    else compile(expression, what, (t) => t === 'dyn' || t === 'string', 'a string')
    out[key] = expression
  }
  if (!out['postern.subject']) throw invalid('attributeMapping must map postern.subject (e.g. postern.subject=assertion.sub).')
  return out
}

/** Validates an attribute condition ('' for none). */
export function parseAttributeCondition(raw: unknown): string {
  if (raw === undefined || raw === null || raw === '') return ''
  if (typeof raw !== 'string') throw invalid('attributeCondition must be a CEL expression.')
  if (raw.length > LIMITS.condition) throw invalid(`attributeCondition may have at most ${LIMITS.condition} characters.`)
  compile(raw, 'attributeCondition', (t) => t === 'bool' || t === 'dyn', 'a bool')
  return raw
}

const cache = new BoundedCache<string, Compiled>(5_000)
function compiled(expression: string): Compiled {
  let fn = cache.get(expression)
  if (!fn) {
    const parsed = env.parse(expression)
    useLinearMatches(parsed.ast)
    fn = parsed as Compiled
    cache.set(expression, fn)
  }
  return fn
}

/**
 * Maps a verified assertion. postern.subject must yield a usable subject, or nothing is issued.
 * The other targets are best effort: an IdP that omits an empty `groups` claim must not lock its
 * people out, so a failing or unusable value is left out and reported in `skipped`.
 */
export function mapAssertion(mapping: Readonly<Record<string, string>>, assertion: Record<string, unknown>): MappingOutcome {
  const vars = { assertion }
  let subject: unknown
  try {
    subject = compiled(mapping['postern.subject']!)(vars)
  } catch (err) {
    return { ok: false, reason: `The attribute mapping yields no subject (postern.subject: ${celErrorLine(err).slice(0, 300)}).` }
  }
  if (typeof subject !== 'string' || !subject) return { ok: false, reason: 'The attribute mapping yields no subject (postern.subject is empty or not a string).' }
  if (!MEMBER_VALUE.test(subject)) return { ok: false, reason: `The mapped subject '${printable(subject)}' is not usable: 1–127 printable ASCII characters, no spaces.` }

  const identity: MappedIdentity = { subject, groups: [], displayName: '', attributes: {}, skipped: [] }
  for (const [target, expression] of Object.entries(mapping)) {
    if (target === 'postern.subject') continue
    let value: unknown
    try {
      value = compiled(expression)(vars)
    } catch {
      identity.skipped.push(target)
      continue
    }
    if (target === 'postern.groups') {
      const list = Array.isArray(value) ? value : typeof value === 'string' ? [value] : undefined
      if (!list) identity.skipped.push(target)
      // Names a member string cannot hold ("Domain Users") could never match a binding.
      else identity.groups = [...new Set(list.filter((g): g is string => typeof g === 'string' && MEMBER_VALUE.test(g)))].slice(0, LIMITS.groups)
    } else if (target === 'postern.display_name') {
      if (typeof value === 'string') identity.displayName = value.slice(0, 200)
      else identity.skipped.push(target)
    } else {
      const text = typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean' ? String(value) : undefined
      if (text !== undefined && MEMBER_VALUE.test(text) && Object.keys(identity.attributes).length < LIMITS.attributes) identity.attributes[target.slice(10)] = text
      else identity.skipped.push(target)
    }
  }
  return { ok: true, identity }
}

/** The attribute condition: true lets the identity in; false or an error keeps it out. */
export function conditionHolds(condition: string, assertion: Record<string, unknown>, identity: MappedIdentity): boolean {
  if (!condition) return true
  try {
    const postern = { subject: identity.subject, groups: identity.groups, display_name: identity.displayName }
    return compiled(condition)({ assertion, postern, attribute: identity.attributes }) === true
  } catch {
    return false
  }
}

