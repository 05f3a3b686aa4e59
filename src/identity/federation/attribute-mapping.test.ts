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
})
