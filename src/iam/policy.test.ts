import { describe, expect, it } from 'vitest'
import { addMember } from '../api/binding-edits.js'
import type { Condition } from './conditions.js'
import {
  canonical,
  checkRolesGrantable,
  containsMember,
  emptyPolicy,
  EMPTY_ETAG,
  LIMITS,
  newEtag,
  normalizePolicy,
  replaceMember,
  samePolicy,
  type PolicyBody,
} from './policy.js'
import { listRoles } from './roles.js'
import { invalidMessage } from '../../test/support/refusals.js'

const UNTIL_DEC: Condition = { title: 'until December', expression: "request.time < timestamp('2026-12-01T00:00:00Z')" }
const ONLY_HELLO: Condition = { title: 'only hello', expression: "resource.name.endsWith('/hello')" }


describe('normalizePolicy', () => {
  it('parses members, merges bindings of the same role and condition, dedupes, drops empty ones and sorts', () => {
    const policy = normalizePolicy({
      version: 1,
      etag: 'BwXYZ',
      bindings: [
        { role: 'roles/run.invoker', members: ['user:Zed@X.com', 'user:ann@x.com'] },
        { role: 'roles/run.admin', members: ['group:Admins@X.com'] },
        { role: 'roles/run.invoker', members: ['user:ANN@x.com', 'serviceAccount:ci@p.iam.postern.internal'] },
        { role: 'roles/viewer', members: [] },
        { role: 'roles/run.invoker', members: ['allUsers'], condition: UNTIL_DEC },
        { role: 'roles/run.invoker', members: ['domain:x.com'], condition: { ...UNTIL_DEC } },
        { role: 'roles/run.invoker', members: ['domain:y.com'], condition: ONLY_HELLO },
        { role: 'roles/run.viewer', members: ['user:ann@x.com'], condition: null },
      ],
    })
    expect(policy).toEqual({
      version: 3,
      bindings: [
        { role: 'roles/run.admin', members: ['group:admins@x.com'] },
        { role: 'roles/run.invoker', members: ['serviceAccount:ci@p.iam.postern.internal', 'user:ann@x.com', 'user:zed@x.com'] },
        // conditional bindings follow the unconditional one, ordered by expression
        { role: 'roles/run.invoker', members: ['allUsers', 'domain:x.com'], condition: UNTIL_DEC },
        { role: 'roles/run.invoker', members: ['domain:y.com'], condition: ONLY_HELLO },
        { role: 'roles/run.viewer', members: ['user:ann@x.com'] },
      ],
    })
  })

  it('keeps conditions that differ only in title or description apart', () => {
    const policy = normalizePolicy({
      bindings: [
        { role: 'roles/run.invoker', members: ['user:a@x.com'], condition: UNTIL_DEC },
        { role: 'roles/run.invoker', members: ['user:b@x.com'], condition: { ...UNTIL_DEC, title: 'other title' } },
        { role: 'roles/run.invoker', members: ['user:c@x.com'], condition: { ...UNTIL_DEC, description: 'why' } },
      ],
    })
    expect(policy.bindings).toHaveLength(3)
  })

  it('an empty or missing binding list is the empty version-1 policy', () => {
    expect(normalizePolicy({})).toEqual({ version: 1, bindings: [] })
    expect(normalizePolicy({ version: 0, bindings: [] })).toEqual({ version: 1, bindings: [] })
    expect(normalizePolicy({ version: 3, bindings: [{ role: 'roles/owner', members: [] }] })).toEqual({ version: 1, bindings: [] })
  })

  it('version is 3 exactly when a condition is present, whatever the input said', () => {
    expect(normalizePolicy({ version: 1, bindings: [{ role: 'roles/run.invoker', members: ['allUsers'], condition: UNTIL_DEC }] }).version).toBe(3)
    expect(normalizePolicy({ version: 3, bindings: [{ role: 'roles/run.invoker', members: ['allUsers'] }] }).version).toBe(1)
  })

  it('is idempotent and survives a JSON round trip', () => {
    const once = normalizePolicy({
      bindings: [
        { role: 'roles/run.invoker', members: ['user:B@x.com', 'user:a@x.com'], condition: { ...UNTIL_DEC, description: 'd' } },
        { role: 'roles/owner', members: ['user:o@x.com'] },
      ],
    })
    expect(normalizePolicy(once)).toEqual(once)
    expect(normalizePolicy(JSON.parse(JSON.stringify({ ...once, etag: 'BwAAA' })))).toEqual(once)
  })

  it.each([
    [null, /policy must be an object/],
    ['{}', /policy must be an object/],
    [[], /policy must be an object/],
    [{ version: 2 }, /version must be 1 or 3/],
    [{ version: '3' }, /version must be 1 or 3/],
    [{ bindings: {} }, /bindings must be a list/],
    [{ bindings: [null] }, /bindings\[0\] must be an object/],
    [{ bindings: [{ role: 'roles/owner' }] }, /bindings\[0\]\.members must be a list/],
    [{ bindings: [{ role: 'roles/owner', members: 'user:a@x.com' }] }, /members must be a list/],
    [{ bindings: [{ role: 'roles/nope', members: ['user:a@x.com'] }] }, /Role 'roles\/nope' is not supported/],
    [{ bindings: [{ members: ['user:a@x.com'] }] }, /Role 'undefined' is not supported/],
    [{ bindings: [{ role: 'roles/owner', members: ['user:a@x.com', 'usr:b@x.com'] }] }, /Invalid member 'usr:b@x.com'/],
    [{ bindings: [{ role: 'roles/owner', members: ['user:\u0430dmin@x.com'] }] }, /Invalid member 'user:\u0430dmin@x.com'.*ASCII/],
    [{ bindings: [{ role: 'roles/owner', members: [42] }] }, /Members must be strings/],
    [{ bindings: [{ role: 'roles/owner', members: ['user:a@x.com'], condition: { title: 't', expression: '1' } }] }, /must be a bool/],
    [{ bindings: [{ role: 'roles/owner', members: ['user:a@x.com'], condition: 'request.time < now' }] }, /condition must be an object/],
    [{ bindings: [], foo: 1 }, /Unknown policy field 'foo'/],
    [JSON.parse('{"bindings":[],"__proto__":{"x":1}}'), /Unknown policy field '__proto__'/],
    [{ bindings: [{ role: 'roles/owner', members: ['user:a@x.com'], members2: [] }] }, /Unknown field 'members2' in policy.bindings\[0\]/],
    [{ bindings: [{ role: 'roles/owner', members: ['user:a@x.com'], condition: { ...UNTIL_DEC, extra: 1 } }] }, /Unknown condition field 'extra'/],
  ])('rejects %j', (raw, message) => {
    expect(invalidMessage(() => normalizePolicy(raw))).toMatch(message)
  })

  it('ignores the etag and auditConfigs (not IAM bindings)', () => {
    expect(normalizePolicy({ etag: 'BwX', auditConfigs: [], bindings: [] })).toEqual({ version: 1, bindings: [] })
    // An etag that is not a string is no etag get-iam-policy gave: refused, not taken for a stale one.
    expect(() => normalizePolicy({ etag: 5, bindings: [] })).toThrow('policy.etag must be a string: the etag get-iam-policy returned.')
  })
})

describe('limits', () => {
  const users = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `user:u${from + i}@x.com`)

  it('1,500 member entries per policy, counted across bindings', () => {
    expect(normalizePolicy({ bindings: [{ role: 'roles/run.invoker', members: users(1_500) }] }).bindings[0]!.members).toHaveLength(1_500)
    const split = { bindings: [{ role: 'roles/run.invoker', members: users(750) }, { role: 'roles/run.viewer', members: users(750) }] }
    expect(() => normalizePolicy(split)).not.toThrow()
    expect(invalidMessage(() => normalizePolicy({ bindings: [{ role: 'roles/run.invoker', members: users(1_501) }] }))).toMatch(/at most 1500 members/)
    const over = { bindings: [{ role: 'roles/run.invoker', members: users(750) }, { role: 'roles/run.viewer', members: users(751) }] }
    expect(invalidMessage(() => normalizePolicy(over))).toMatch(/at most 1500 members; this one has 1501/)
  })

  it('duplicates are counted once', () => {
    const dupes = { bindings: [{ role: 'roles/run.invoker', members: users(1_000) }, { role: 'roles/run.invoker', members: users(1_000) }] }
    expect(normalizePolicy(dupes).bindings[0]!.members).toHaveLength(1_000)
  })

  it('100 conditional bindings per policy', () => {
    const conditional = (n: number) => ({
      bindings: Array.from({ length: n }, (_, i) => ({ role: 'roles/run.invoker', members: [`user:u${i}@x.com`], condition: { ...UNTIL_DEC, title: `c${i}` } })),
    })
    expect(normalizePolicy(conditional(100)).bindings).toHaveLength(100)
    expect(invalidMessage(() => normalizePolicy(conditional(101)))).toMatch(/at most 100 conditional bindings; this one has 101/)
    // Merged bindings count once.
    const merged = { bindings: Array.from({ length: 150 }, (_, i) => ({ role: 'roles/run.invoker', members: [`user:u${i}@x.com`], condition: UNTIL_DEC })) }
    expect(normalizePolicy(merged).bindings).toHaveLength(1)
  })

  it('canonical enforces the same limits on edits', () => {
    let policy: PolicyBody = { version: 1, bindings: [{ role: 'roles/run.invoker', members: users(LIMITS.members) as PolicyBody['bindings'][number]['members'] }] }
    policy = canonical(policy.bindings)
    expect(invalidMessage(() => canonical(addMember(policy, 'user:one-more@x.com', 'roles/run.viewer').bindings))).toMatch(/at most 1500/)
    // Re-adding an existing member is not an extra entry.
    expect(canonical(addMember(policy, 'user:u0@x.com', 'roles/run.invoker').bindings)).toEqual(policy)
  })
})

describe('replaceMember and friends', () => {
  it('rewrites a deleted identity everywhere and merges with what is already there', () => {
    const policy = normalizePolicy({
      bindings: [
        { role: 'roles/run.invoker', members: ['user:ann@x.com', 'deleted:user:ann@x.com?uid=u1'] },
        { role: 'roles/run.viewer', members: ['user:ann@x.com'], condition: UNTIL_DEC },
      ],
    })
    const p = replaceMember(policy, 'user:ann@x.com', 'deleted:user:ann@x.com?uid=u1')
    expect(p.bindings).toEqual([
      { role: 'roles/run.invoker', members: ['deleted:user:ann@x.com?uid=u1'] },
      { role: 'roles/run.viewer', members: ['deleted:user:ann@x.com?uid=u1'], condition: UNTIL_DEC },
    ])
    expect(containsMember(p, 'user:ann@x.com')).toBe(false)
    expect(containsMember(p, 'deleted:user:ann@x.com?uid=u1')).toBe(true)
    expect(replaceMember(p, 'user:nobody@x.com', 'user:x@x.com')).toEqual(p)
  })

  it('samePolicy compares bindings; emptyPolicy and etags', () => {
    expect(samePolicy(emptyPolicy(), { version: 1, bindings: [] })).toBe(true)
    expect(emptyPolicy().etag).toBe(EMPTY_ETAG)
    const a = newEtag()
    expect(a).toMatch(/^Bw[A-Za-z0-9_-]{12}$/)
    expect(newEtag()).not.toBe(a)
  })
})

describe('roles a resource may grant', () => {
  const policyOf = (...roles: string[]) => normalizePolicy({ bindings: roles.map((role) => ({ role, members: ['user:ann@example.com'] })) })
  const refusal = invalidMessage

  it('a service takes the run roles only, and says which apply', () => {
    expect(() => checkRolesGrantable(policyOf('roles/run.invoker', 'roles/run.viewer', 'roles/run.developer', 'roles/run.admin'), 'run.postern/Service')).not.toThrow()
    for (const role of ['roles/owner', 'roles/editor', 'roles/viewer', 'roles/iam.serviceAccountTokenCreator', 'roles/iam.serviceAccountAdmin']) {
      expect(refusal(() => checkRolesGrantable(policyOf('roles/run.invoker', role), 'run.postern/Service'))).toBe(
        `${role} cannot be granted on a service: it applies higher up (grant it on the project or the organization). Roles that can be granted on a service: roles/run.invoker, roles/run.viewer, roles/run.developer, roles/run.admin.`,
      )
    }
    expect(refusal(() => checkRolesGrantable(policyOf('roles/owner', 'roles/viewer'), 'run.postern/Service'))).toMatch(/^roles\/owner, roles\/viewer cannot be granted on a service: they apply/)
  })

  it('a service account takes the service-account roles only', () => {
    expect(() => checkRolesGrantable(policyOf('roles/iam.serviceAccountTokenCreator', 'roles/iam.serviceAccountAdmin'), 'iam.postern/ServiceAccount')).not.toThrow()
    for (const role of ['roles/run.invoker', 'roles/run.admin', 'roles/owner', 'roles/viewer']) {
      expect(refusal(() => checkRolesGrantable(policyOf(role), 'iam.postern/ServiceAccount'))).toContain(
        'Roles that can be granted on a service account: roles/iam.serviceAccountTokenCreator, roles/iam.serviceAccountAdmin.',
      )
    }
  })

  it('a project and the organization take every role', () => {
    const every = listRoles().map((r) => r.name)
    expect(() => checkRolesGrantable(policyOf(...every), 'postern.project/Project')).not.toThrow()
    expect(() => checkRolesGrantable(policyOf(...every), 'postern.organization/Organization')).not.toThrow()
  })
})
