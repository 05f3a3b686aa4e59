import { describe, expect, it } from 'vitest'
import { PosternError } from '../../core/errors.js'
import { conditionHolds, mapAssertion, parseAttributeCondition, parseAttributeMapping } from './attribute-mapping.js'

const mapping = parseAttributeMapping({
  'postern.subject': 'assertion.sub',
  'postern.groups': 'assertion.groups',
  'postern.display_name': 'assertion.name',
  'attribute.dept': 'assertion.dept',
  'attribute.level': 'assertion.level',
})

describe('attribute mapping', () => {
  it('maps subject, groups, display name and attributes', () => {
    const out = mapAssertion(mapping, { sub: 'ann', groups: ['eng', 'eng', 'Domain Users', 7], name: 'Ann', dept: 'rnd', level: 3 })
    expect(out).toEqual({ ok: true, identity: { subject: 'ann', groups: ['eng'], displayName: 'Ann', attributes: { dept: 'rnd', level: '3' }, skipped: [] } })
  })

  it('leaves out what fails or cannot be named by a member string, and says so', () => {
    const out = mapAssertion(mapping, { sub: 'ann', dept: 'r and d' })
    expect(out).toEqual({ ok: true, identity: { subject: 'ann', groups: [], displayName: '', attributes: {}, skipped: ['attribute.dept', 'attribute.level', 'postern.display_name', 'postern.groups'] } })
  })

  it.each([
    [{}, /yields no subject/],
    [{ sub: '' }, /yields no subject/],
    [{ sub: 42 }, /yields no subject/],
    [{ sub: 'has space' }, /not usable/],
    [{ sub: 'x'.repeat(128) }, /not usable/],
    [{ sub: 'ünï' }, /not usable/],
  ])('refuses a subject from %j', (assertion, reason) => {
    const out = mapAssertion(mapping, assertion)
    expect(out.ok).toBe(false)
    expect(!out.ok && out.reason).toMatch(reason)
  })

  it('refuses mappings that could never work, naming the entry', () => {
    const bad = (m: unknown, message: RegExp) => {
      expect(() => parseAttributeMapping(m)).toThrow(PosternError)
      expect(() => parseAttributeMapping(m)).toThrow(message)
    }
    bad({ 'postern.groups': 'assertion.groups' }, /must map postern.subject/)
    bad({ 'postern.subject': 'assertion.sub', 'google.subject': 'assertion.sub' }, /not a target/)
    bad({ 'postern.subject': 'assertion.sub', 'attribute.Bad-Name': 'assertion.x' }, /not a target/)
    bad({ 'postern.subject': 'assertion.sub)' }, /does not parse/)
    bad({ 'postern.subject': '1 + 2' }, /must be a string/)
    bad({ 'postern.subject': 'assertion.sub', 'postern.groups': "'eng'" }, /must be a list/)
    bad({ 'postern.subject': '' }, /needs a CEL expression/)
    bad(['postern.subject'], /must be an object/)
  })

  it('conditions see assertion, postern and attribute; false, errors and non-bools keep the identity out', () => {
    const identity = { subject: 'ann', groups: ['eng'], displayName: '', attributes: { dept: 'rnd' }, skipped: [] }
    expect(conditionHolds('', {}, identity)).toBe(true)
    expect(conditionHolds(parseAttributeCondition("'eng' in postern.groups && attribute.dept == 'rnd'"), {}, identity)).toBe(true)
    expect(conditionHolds("assertion.email.endsWith('@example.com')", { email: 'ann@example.com' }, identity)).toBe(true)
    expect(conditionHolds("assertion.email.endsWith('@example.com')", { email: 'ann@evil.example' }, identity)).toBe(false)
    expect(conditionHolds("assertion.email.endsWith('@example.com')", {}, identity)).toBe(false)
    expect(conditionHolds('assertion.flag', { flag: 'yes' }, identity)).toBe(false)
    expect(() => parseAttributeCondition("'yes'")).toThrow(/must be a bool/)
    expect(parseAttributeCondition(undefined)).toBe('')
  })

  it('regular expressions are RE2: an IdP-chosen claim cannot stall the exchange', () => {
    // V8 backtracks over a 40-character name for hours; RE2 is linear. First a check that
    // matches() is RE2 (\z is the end of the text in RE2, a plain 'z' in V8), so that on a
    // backtracking engine this test fails at once instead of hanging. The time bound is loose on
    // purpose: the benchmark, not this test, measures speed.
    const identity = { subject: 'ann', groups: [], displayName: '', attributes: {}, skipped: [] }
    expect(conditionHolds(parseAttributeCondition("assertion.name.matches(r'Ann\\z')"), { name: 'Ann' }, identity)).toBe(true)
    const name = 'Ann Marie Elisabeth Charlotte Henriette!'
    expect(name).toHaveLength(40)
    const pattern = "assertion.name.matches('^([A-Za-z]+ ?)+$')"
    const condition = parseAttributeCondition(pattern)
    const named = parseAttributeMapping({ 'postern.subject': 'assertion.sub', 'postern.display_name': `${pattern} ? assertion.name : 'unnamed'` })
    const started = performance.now()
    const out = mapAssertion(named, { sub: 'ann', name })
    expect(out.ok && out.identity.displayName).toBe('unnamed')
    expect(out.ok && conditionHolds(condition, { sub: 'ann', name }, out.identity)).toBe(false)
    expect(performance.now() - started).toBeLessThan(100)
    expect(conditionHolds(condition, { name: 'Ann Marie' }, identity)).toBe(true)
  })

  it.each([
    ['assertion.name.matches(assertion.pattern)', /must be a string literal/],
    ["assertion.name.matches('(a)\\\\1')", /not RE2 syntax/],
    ["assertion.name.matches('^(?!admin)')", /not RE2 syntax/],
    ["assertion.groups.exists(g, assertion.groups.exists(h, g == h + 'x'))", /may not be nested/],
    ["cel.bind(g, assertion.groups, g.size() > 0)", /cel.bind is not allowed/],
  ])('refuses the costly or non-RE2 condition %s when the provider is written', (condition, message) => {
    expect(() => parseAttributeCondition(condition)).toThrow(PosternError)
    expect(() => parseAttributeCondition(condition)).toThrow(message)
    expect(() => parseAttributeMapping({ 'postern.subject': 'assertion.sub', 'attribute.x': `${condition} ? 'y' : 'n'` })).toThrow(message)
  })

  it('a condition over the groups with one comprehension and a pattern is fine', () => {
    const condition = parseAttributeCondition("assertion.groups.exists(g, g.matches('^eng-[a-z]+$'))")
    const identity = { subject: 'ann', groups: [], displayName: '', attributes: {}, skipped: [] }
    expect(conditionHolds(condition, { groups: ['ops', 'eng-web'] }, identity)).toBe(true)
    expect(conditionHolds(condition, { groups: ['ops', 'eng-'] }, identity)).toBe(false)
  })
})
