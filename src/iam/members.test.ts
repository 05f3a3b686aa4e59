import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { PosternError } from '../core/errors.js'
import { deletedMember, emailMember, isDomainName, normalizeEmail, parseEmail, parseMember, printable, tryParseMember } from './members.js'
import { invalidMessage } from '../../test/support/refusals.js'


const FED = 'iam.postern/workforcePools'

describe('parseMember: every form of DESIGN §1', () => {
  it.each([
    ['user:ann@example.com', 'user:ann@example.com'],
    ['user:Ann.Lee@Example.COM', 'user:ann.lee@example.com'],
    ['USER:ann@example.com', 'user:ann@example.com'],
    ['user:ann+tag@sub.example.co.uk', 'user:ann+tag@sub.example.co.uk'],
    ['group:Eng@Example.com', 'group:eng@example.com'],
    ['Group:eng@example.com', 'group:eng@example.com'],
    ['serviceAccount:ci@my-project.iam.postern.internal', 'serviceAccount:ci@my-project.iam.postern.internal'],
    ['serviceaccount:CI@My-Project.iam.postern.internal', 'serviceAccount:ci@my-project.iam.postern.internal'],
    ['SERVICEACCOUNT:ci@my-project.iam.postern.internal', 'serviceAccount:ci@my-project.iam.postern.internal'],
    ['domain:example.com', 'domain:example.com'],
    ['domain:Example.COM', 'domain:example.com'],
    ['allUsers', 'allUsers'],
    ['allAuthenticatedUsers', 'allAuthenticatedUsers'],
    [`principal://${FED}/corp-pool/subject/alice@corp.example`, `principal://${FED}/corp-pool/subject/alice@corp.example`],
    // subjects are case-sensitive opaque ids and may contain '/'
    [`principal://${FED}/corp-pool/subject/Alice/123`, `principal://${FED}/corp-pool/subject/Alice/123`],
    [`Principal://${FED}/corp-pool/subject/x`, `principal://${FED}/corp-pool/subject/x`],
    [`principalSet://${FED}/corp-pool/group/engineering`, `principalSet://${FED}/corp-pool/group/engineering`],
    [`principalSet://${FED}/corp-pool/attribute.department/Eng`, `principalSet://${FED}/corp-pool/attribute.department/Eng`],
    [`principalSet://${FED}/corp-pool/*`, `principalSet://${FED}/corp-pool/*`],
    [`principalset://${FED}/corp-pool/*`, `principalSet://${FED}/corp-pool/*`],
    ['deleted:user:ann@example.com?uid=123456', 'deleted:user:ann@example.com?uid=123456'],
    ['deleted:user:Ann@Example.com?uid=u-1', 'deleted:user:ann@example.com?uid=u-1'],
    ['deleted:group:eng@example.com?uid=g1', 'deleted:group:eng@example.com?uid=g1'],
    ['deleted:serviceAccount:ci@p1-abc.iam.postern.internal?uid=s1', 'deleted:serviceAccount:ci@p1-abc.iam.postern.internal?uid=s1'],
    ['deleted:serviceaccount:ci@p1-abc.iam.postern.internal?uid=s1', 'deleted:serviceAccount:ci@p1-abc.iam.postern.internal?uid=s1'],
    // RFC 5322 atext allows '?' in a local part; the uid is what follows the last '?uid='
    ['deleted:user:a?b@example.com?uid=u1', 'deleted:user:a?b@example.com?uid=u1'],
    // internationalised domains in their punycode form
    ['user:ann@xn--bcher-kva.de', 'user:ann@xn--bcher-kva.de'],
    ['domain:xn--80ak6aa92e.com', 'domain:xn--80ak6aa92e.com'],
    ['group:team@XN--BCHER-KVA.example', 'group:team@xn--bcher-kva.example'],
  ])('%s → %s', (raw, canonical) => {
    expect(parseMember(raw)).toBe(canonical)
    expect(parseMember(canonical)).toBe(canonical)
  })

  it('names a workforce pool id that cannot be one, rather than the form that was typed', () => {
    for (const raw of ['principalSet://iam.postern/workforcePools/p1/*', 'principal://iam.postern/workforcePools/Corp/subject/ann']) {
      const message = invalidMessage(() => parseMember(raw))
      expect(message, raw).toContain('is no workforce pool id: 6 to 63 lowercase letters')
      expect(message, raw).not.toContain('expected user:EMAIL')
    }
    expect(invalidMessage(() => parseMember('principalSet://iam.postern/workforcePools/pool-one/nope'))).toContain('expected user:EMAIL')
  })

  it('accepts the longest legal email and rejects one character more', () => {
    const local64 = 'a'.repeat(64)
    expect(parseMember(`user:${local64}@example.com`)).toBe(`user:${local64}@example.com`)
    expect(invalidMessage(() => parseMember(`user:${local64}a@example.com`))).toContain('Invalid member')
    const label = 'b'.repeat(63)
    const domain = `${label}.${label}.${label}.${'c'.repeat(61)}`
    expect(domain).toHaveLength(253)
    expect(isDomainName(domain)).toBe(true)
    expect(isDomainName(domain + 'c')).toBe(false)
    const longDomain = `${'d'.repeat(63)}.${'e'.repeat(63)}.${'f'.repeat(63)}.co` // 194
    expect(normalizeEmail(`${'a'.repeat(59)}@${longDomain}`)).toHaveLength(254)
    expect(normalizeEmail(`${'a'.repeat(60)}@${longDomain}`)).toBeUndefined()
  })
})

describe('parseMember: malformed input is INVALID_ARGUMENT naming the member', () => {
  it.each([
    ['', 'empty'],
    [' ', 'blank'],
    ['user:', 'no email'],
    ['user:ann', 'no @'],
    ['user:ann.example.com', 'no @'],
    ['user:@example.com', 'empty local part'],
    ['user:ann@', 'empty domain'],
    ['user:ann@example', 'single-label domain'],
    ['user:ann@example.123', 'numeric TLD'],
    ['user:ann@-example.com', 'label starts with hyphen'],
    ['user:ann@example-.com', 'label ends with hyphen'],
    ['user:ann@exa_mple.com', 'underscore in domain'],
    ['user:ann@example..com', 'empty label'],
    ['user:.ann@example.com', 'leading dot'],
    ['user:ann.@example.com', 'trailing dot'],
    ['user:an..n@example.com', 'double dot'],
    ['user:ann@b@example.com', 'two @'],
    ['user: ann@example.com', 'leading space'],
    ['user:ann@example.com ', 'trailing space'],
    [' user:ann@example.com', 'space before prefix'],
    ['user:ann smith@example.com', 'inner space'],
    ['user:ann\n@example.com', 'newline'],
    ['user:ann@example.com\u0000', 'NUL'],
    ['user:ann\u007f@example.com', 'DEL'],
    ['user:ann\t@example.com', 'tab'],
    ['user:"ann"@example.com', 'quoted local part'],
    ['ann@example.com', 'missing prefix'],
    ['users:ann@example.com', 'unknown prefix'],
    ['robot:ann@example.com', 'unknown prefix'],
    ['member:ann@example.com', 'unknown prefix'],
    [':ann@example.com', 'empty prefix'],
    ['user', 'prefix only'],
    ['allusers', 'wrong casing of allUsers'],
    ['allUsers ', 'allUsers with a trailing space'],
    ['AllAuthenticatedUsers', 'wrong casing'],
    ['domain:', 'empty domain'],
    ['domain:localhost', 'single label'],
    ['domain:@example.com', 'domain with @'],
    ['domain:user@example.com', 'an email is not a domain'],
    [`domain:${'a'.repeat(64)}.com`, 'label over 63'],
    ['deleted:user:ann@example.com', 'no uid'],
    ['deleted:user:ann@example.com?uid=', 'empty uid'],
    ['deleted:user:ann@example.com?uid=a b', 'space in uid'],
    ['deleted:user:ann@example.com?uid=a?uid=b', 'uid with ?'],
    ['deleted:domain:example.com?uid=1', 'deleted domain'],
    ['deleted:allUsers?uid=1', 'deleted allUsers'],
    ['deleted:user:not-an-email?uid=1', 'deleted non-email'],
    [`principal://${FED}/corp-pool/subject/`, 'empty subject'],
    [`principal://${FED}/corp-pool/subject/a b`, 'space in subject'],
    [`principal://${FED}/corp-pool/subject/${'s'.repeat(128)}`, 'subject over 127'],
    [`principal://${FED}/abc/subject/x`, 'pool id too short'],
    [`principal://${FED}/Corp-Pool/subject/x`, 'uppercase pool id'],
    [`principal://${FED}/corp-pool/group/x`, 'principal with group'],
    [`principal://${FED}/corp-pool`, 'no subject'],
    ['principal://evil.example/workforcePools/corp-pool/subject/x', 'foreign host'],
    [`principal:/${FED}/corp-pool/subject/x`, 'single slash'],
    [`principalSet://${FED}/corp-pool/user/x`, 'unknown set kind'],
    [`principalSet://${FED}/corp-pool/*/x`, 'star with tail'],
    [`principalSet://${FED}/corp-pool/group/`, 'empty group'],
    [`principalSet://${FED}/corp-pool/attribute./x`, 'empty attribute name'],
    [`principalSet://${FED}/corp-pool/attribute.Dept/x`, 'uppercase attribute name'],
    [`principalSet://${FED}/corp-pool/attribute.dept/`, 'empty attribute value'],
    [`principalSet://${FED}/corp-pool/attribute.dept`, 'attribute without value'],
    [`principalSet://${FED}/corp-pool`, 'set without kind'],
    ['principalSet://iam.postern/workforcePools/', 'no pool'],
  ])('%j (%s)', (raw) => {
    const message = invalidMessage(() => parseMember(raw))
    expect(message).toContain(`'${printable(raw)}'`)
    expect(tryParseMember(raw)).toBeUndefined()
  })

  it('rejects non-strings without echoing them', () => {
    for (const raw of [42, null, undefined, {}, ['user:a@b.com']]) {
      expect(invalidMessage(() => parseMember(raw))).toMatch(/strings/)
    }
  })

  it('suggests a prefix for a bare email', () => {
    expect(invalidMessage(() => parseMember('ann@example.com'))).toContain("'user:ann@example.com'")
  })

  it('keeps control characters and length out of the message', () => {
    const message = invalidMessage(() => parseMember(`user:\u001b[31mred\u0000${'x'.repeat(500)}`))
    expect(message).not.toMatch(/\p{Cc}/u)
    expect(message.length).toBeLessThan(600)
  })
})

describe('look-alikes never become the real identity', () => {
  it.each([
    ['user:\u0430dmin@example.com', 'Cyrillic а in the local part'],
    ['user:admin@ex\u0430mple.com', 'Cyrillic а in the domain'],
    ['group:\u0430dmins@example.com', 'Cyrillic а in a group'],
    ['serviceAccount:ci@pr\u043eject.iam.postern.internal', 'Cyrillic о'],
    ['domain:ex\u0430mple.com', 'Cyrillic а in domain:'],
    ['user:ann@b\u00fccher.de', 'Unicode domain (must be punycode)'],
    ['domain:b\u00fccher.de', 'Unicode domain: (must be punycode)'],
    ['user:\uff41dmin@example.com', 'fullwidth a'],
    ['user:admin\u200b@example.com', 'zero-width space'],
    ['user:admin@example.com\u200b', 'trailing zero-width space'],
    // KELVIN SIGN lowercases to ASCII 'k': it must be refused, not folded into user:kate@…
    ['user:\u212aate@example.com', 'Kelvin sign'],
    ['user:kate@\u212aexample.com', 'Kelvin sign in domain'],
    ['domain:\u212aexample.com', 'Kelvin sign in domain:'],
    ['deleted:user:\u212aate@example.com?uid=1', 'Kelvin sign in deleted:'],
    [`principal://${FED}/corp-pool/subject/\u0430lice`, 'Cyrillic in a subject'],
    [`principalSet://${FED}/corp-pool/group/\u0430dmins`, 'Cyrillic in a set'],
  ])('%j is rejected (%s) with a punycode hint', (raw) => {
    const message = invalidMessage(() => parseMember(raw))
    expect(message).toContain('ASCII')
    expect(message).toContain('punycode')
  })

  it.each([
    ['users:ann@example.com', "did you mean 'user:ann@example.com'?"],
    ['grup:ops@example.com', "did you mean 'group:ops@example.com'?"],
    ['serviceAcount:ci@p.iam.postern.internal', "did you mean 'serviceAccount:ci@p.iam.postern.internal'?"],
  ])('%j is rejected with the type it is a typo of', (raw, hint) => {
    expect(invalidMessage(() => parseMember(raw))).toContain(hint)
  })

  it('a type in another case is no typo: what follows it is named', () => {
    expect(invalidMessage(() => parseMember('User:ann@'))).not.toContain('did you mean')
  })

  it('normalizeEmail and parseEmail refuse look-alikes too', () => {
    expect(normalizeEmail('\u212aate@example.com')).toBeUndefined()
    expect(normalizeEmail('\u0430dmin@example.com')).toBeUndefined()
    expect(invalidMessage(() => parseEmail('\u0430dmin@example.com', 'user email'))).toMatch(/Invalid user email .*punycode/)
    expect(parseEmail('Ann@Example.com')).toBe('ann@example.com')
  })

  it('any non-ASCII input is rejected (property)', () => {
    const nonAscii = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 3 }).filter((s) => /[^\p{ASCII}]/u.test(s))
    const template = fc.constantFrom(
      (x: string) => `user:${x}@example.com`,
      (x: string) => `user:ann@${x}.example.com`,
      (x: string) => `domain:${x}.com`,
      (x: string) => `group:eng${x}@example.com`,
      (x: string) => `serviceAccount:${x}ci@p.iam.postern.internal`,
      (x: string) => `principal://${FED}/corp-pool/subject/${x}`,
      (x: string) => `deleted:user:${x}@example.com?uid=1`,
      (x: string) => x,
    )
    fc.assert(fc.property(template, nonAscii, (t, x) => tryParseMember(t(x)) === undefined))
  })
})

describe('only our error type escapes, and what is accepted is canonical', () => {
  it('holds for arbitrary strings and for mutations of valid members (property)', () => {
    const seeds = [
      'user:ann@example.com',
      'serviceAccount:ci@p.iam.postern.internal',
      'domain:example.com',
      `principal://${FED}/corp-pool/subject/alice`,
      `principalSet://${FED}/corp-pool/attribute.team/a`,
      'deleted:group:eng@example.com?uid=7',
    ]
    const mutated = fc
      .tuple(fc.constantFrom(...seeds), fc.nat(), fc.string({ unit: 'binary', maxLength: 3 }), fc.boolean())
      .map(([s, at, insert, upper]) => {
        const i = at % (s.length + 1)
        const out = s.slice(0, i) + insert + s.slice(i)
        return upper ? out.toUpperCase() : out
      })
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary' }), mutated), (raw) => {
        let member: string
        try {
          member = parseMember(raw)
        } catch (err) {
          return err instanceof PosternError && err.status === 'INVALID_ARGUMENT'
        }
        return parseMember(member) === member && !/[^\x21-\x7e]/.test(member)
      }),
      { numRuns: 2_000 },
    )
  })
})

describe('emailMember and deletedMember', () => {
  it('build members that parse back to themselves', () => {
    expect(parseMember(emailMember('serviceAccount', 'ci@p.iam.postern.internal'))).toBe('serviceAccount:ci@p.iam.postern.internal')
    for (const kind of ['user', 'group', 'serviceAccount'] as const) {
      const m = deletedMember(kind, 'o?dd@example.com', 'abc-123')
      expect(m).toBe(`deleted:${kind}:o?dd@example.com?uid=abc-123`)
      expect(parseMember(m)).toBe(m)
    }
  })
})
