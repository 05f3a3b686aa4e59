import { describe, expect, it } from 'vitest'
import { compilePolicy } from './compiled-policy.js'
import { decide, type Decision, type DecisionRequest } from './decide.js'
import { explain } from './explain.js'
import { GroupIndex } from './groups.js'
import { parseMember, type Member } from './members.js'
import { normalizePolicy } from './policy.js'
import { describePrincipal, principalMember, principalMembers, type Principal } from './principal.js'
import { lineage, ORGANIZATION, resourceType } from './resources.js'

const PROJECT = 'projects/my-project'
const SERVICE = 'projects/my-project/services/hello'
const OTHER_SERVICE = 'projects/my-project/services/bye'
const OTHER_PROJECT = 'projects/other-project'
const DEADLINE = { title: 'until December', expression: "request.time < timestamp('2026-12-01T00:00:00Z')" }
const BROKEN = { title: 'broken at runtime', expression: 'int(resource.name) == 1' }
const BEFORE = Date.parse('2026-06-01T00:00:00Z')
const AFTER = Date.parse('2026-12-01T00:00:00Z')

const ann: Principal = { kind: 'user', email: 'ann@example.com', uid: 'u-ann' }
const bob: Principal = { kind: 'user', email: 'bob@example.org', uid: 'u-bob' }
const ci: Principal = { kind: 'serviceAccount', email: 'ci@my-project.iam.postern.internal', uid: 'u-ci' }
const anonymous: Principal = { kind: 'anonymous' }
const alice: Principal = {
  kind: 'federated',
  pool: 'corp-pool',
  subject: 'alice',
  uid: 'f-alice',
  email: 'alice@corp.example',
  groups: ['eng', 'oncall'],
  attributes: { department: 'research', level: 'L5' },
}

type RawBinding = { role: string; members: string[]; condition?: { title: string; expression: string } }

interface Scenario {
  /** resource name → its bindings */
  policies: Record<string, RawBinding[]>
  who: Principal
  permission?: string
  resource?: string
  groups?: Record<string, string[]>
  now?: number
}

/** What the gateway does: the policies of the resource's lineage, the caller's members, now. */
function request(s: Scenario): DecisionRequest {
  const name = s.resource ?? SERVICE
  const chain = new Set(lineage(name))
  const policies = Object.entries(s.policies)
    .filter(([resource]) => chain.has(resource))
    .map(([resource, bindings], i) => compilePolicy(resource, resourceType(resource), normalizePolicy({ bindings }), i + 1))
  const groups = new GroupIndex(new Map(Object.entries(s.groups ?? {}).map(([g, ms]) => [g, new Set(ms.map(parseMember))])))
  return {
    policies,
    members: principalMembers(s.who, groups),
    permission: s.permission ?? 'run.routes.invoke',
    resource: { name, type: resourceType(name) },
    now: s.now ?? BEFORE,
  }
}

const check = (s: Scenario): Decision => decide(request(s))
const invoker = (...members: string[]): RawBinding[] => [{ role: 'roles/run.invoker', members }]

describe('decide: allow and deny with reasons', () => {
  it('no policy at all: no-binding', () => {
    expect(check({ policies: {}, who: ann })).toEqual({ allow: false, reason: 'no-binding' })
  })

  it('a direct grant says which binding granted', () => {
    expect(check({ policies: { [SERVICE]: invoker('user:ann@example.com') }, who: ann })).toEqual({
      allow: true,
      reason: 'granted',
      grantedBy: { resource: SERVICE, role: 'roles/run.invoker', member: 'user:ann@example.com' },
    })
  })

  it('a role grants only its own permissions', () => {
    const policies = { [SERVICE]: invoker('user:ann@example.com') }
    expect(check({ policies, who: ann, permission: 'run.services.get' })).toEqual({ allow: false, reason: 'no-binding' })
    expect(check({ policies, who: ann, permission: 'run.services.setIamPolicy' }).allow).toBe(false)
    const viewer = { [SERVICE]: [{ role: 'roles/run.viewer', members: ['user:ann@example.com'] }] }
    expect(check({ policies: viewer, who: ann, permission: 'run.services.getIamPolicy' }).allow).toBe(true)
    expect(check({ policies: viewer, who: ann, permission: 'run.services.setIamPolicy' }).allow).toBe(false)
    expect(check({ policies: viewer, who: ann }).allow).toBe(false)
  })

  it('an unknown permission is granted by nothing, not even owner', () => {
    const owner = { [ORGANIZATION]: [{ role: 'roles/owner', members: ['user:ann@example.com'] }] }
    expect(check({ policies: owner, who: ann, permission: 'run.routes.fly' })).toEqual({ allow: false, reason: 'no-binding' })
    expect(check({ policies: owner, who: ann, permission: 'constructor' }).allow).toBe(false)
  })

  it('another member grants nothing', () => {
    expect(check({ policies: { [SERVICE]: invoker('user:bob@example.org') }, who: ann })).toEqual({ allow: false, reason: 'no-binding' })
  })

  it('emails compare case-insensitively, even when the principal arrives mixed-case', () => {
    const policies = { [SERVICE]: invoker('user:Ann@Example.com') }
    expect(check({ policies, who: ann }).allow).toBe(true)
    expect(check({ policies, who: { kind: 'user', email: 'ANN@example.COM', uid: 'u-ann' } }).allow).toBe(true)
    expect(check({ policies: { [SERVICE]: invoker('domain:example.com') }, who: { kind: 'user', email: 'Ann@EXAMPLE.com', uid: 'u' } }).allow).toBe(true)
  })
})

describe('inheritance: organization → project → service', () => {
  it.each([
    [ORGANIZATION, true],
    [PROJECT, true],
    [SERVICE, true],
    [OTHER_PROJECT, false],
    [OTHER_SERVICE, false],
  ])('a grant on %s applies to the service: %s', (where, allowed) => {
    const d = check({ policies: { [where]: invoker('user:ann@example.com') }, who: ann })
    expect(d.allow).toBe(allowed)
    if (allowed) expect(d.grantedBy?.resource).toBe(where)
  })

  it('a service grant does not flow up to the project', () => {
    const d = check({ policies: { [SERVICE]: [{ role: 'roles/run.viewer', members: ['user:ann@example.com'] }] }, who: ann, resource: PROJECT, permission: 'run.services.list' })
    expect(d.allow).toBe(false)
  })

  it('owner on the organization can do everything on a service account', () => {
    const sa = `${PROJECT}/serviceAccounts/ci@my-project.iam.postern.internal`
    const d = check({ policies: { [ORGANIZATION]: [{ role: 'roles/owner', members: ['user:ann@example.com'] }] }, who: ann, resource: sa, permission: 'iam.serviceAccounts.getOpenIdToken' })
    expect(d).toMatchObject({ allow: true, grantedBy: { resource: ORGANIZATION, role: 'roles/owner' } })
  })

  it('the nearest grant is reported, whatever order the policies come in', () => {
    const req = request({ policies: { [ORGANIZATION]: invoker('allUsers'), [SERVICE]: invoker('user:ann@example.com') }, who: ann })
    const forward = decide(req)
    const backward = decide({ ...req, policies: [...req.policies].reverse() })
    expect(forward).toEqual({ allow: true, reason: 'granted', grantedBy: { resource: SERVICE, role: 'roles/run.invoker', member: 'user:ann@example.com' } })
    expect(backward).toEqual(forward)
  })
})

describe('special members', () => {
  it('domain: matches users of that domain only', () => {
    const policies = { [SERVICE]: invoker('domain:example.com') }
    expect(check({ policies, who: ann })).toMatchObject({ allow: true, grantedBy: { member: 'domain:example.com' } })
    expect(check({ policies, who: bob }).allow).toBe(false)
    expect(check({ policies, who: { kind: 'user', email: 'eve@sub.example.com', uid: 'u' } }).allow).toBe(false)
    expect(check({ policies, who: { kind: 'user', email: 'eve@example.com.evil.net', uid: 'u' } }).allow).toBe(false)
    expect(check({ policies, who: { kind: 'user', email: 'eve@notexample.com', uid: 'u' } }).allow).toBe(false)
    expect(check({ policies, who: anonymous }).allow).toBe(false)
  })

  it('allAuthenticatedUsers matches every signed-in principal and not the anonymous caller', () => {
    const policies = { [SERVICE]: invoker('allAuthenticatedUsers') }
    for (const who of [ann, bob, ci, alice]) expect(check({ policies, who }), describePrincipal(who)).toMatchObject({ allow: true, reason: 'granted' })
    expect(check({ policies, who: anonymous })).toEqual({ allow: false, reason: 'no-binding' })
  })

  it('allUsers matches everyone, and the reason says public', () => {
    const policies = { [SERVICE]: invoker('allUsers') }
    for (const who of [anonymous, ann, ci, alice]) {
      expect(check({ policies, who })).toEqual({ allow: true, reason: 'public', grantedBy: { resource: SERVICE, role: 'roles/run.invoker', member: 'allUsers' } })
    }
  })

  it('a deleted identity grants nothing to a new account with the same email', () => {
    const policies = { [SERVICE]: invoker('deleted:user:ann@example.com?uid=u-old') }
    expect(check({ policies, who: ann })).toEqual({ allow: false, reason: 'no-binding' })
    const sa = { [SERVICE]: invoker('deleted:serviceAccount:ci@my-project.iam.postern.internal?uid=u-ci') }
    expect(check({ policies: sa, who: ci }).allow).toBe(false)
    const group = { [SERVICE]: invoker('deleted:group:eng@example.com?uid=g1') }
    expect(check({ policies: group, who: ann, groups: { 'eng@example.com': ['user:ann@example.com'] } }).allow).toBe(false)
  })

  it('a user and a service account with the same address are different members', () => {
    const policies = { [SERVICE]: invoker('serviceAccount:ann@example.com') }
    expect(check({ policies, who: ann }).allow).toBe(false)
    expect(check({ policies: { [SERVICE]: invoker('user:ci@my-project.iam.postern.internal') }, who: ci }).allow).toBe(false)
    expect(check({ policies: { [SERVICE]: invoker('serviceAccount:ci@my-project.iam.postern.internal') }, who: ci }).allow).toBe(true)
  })
})

describe('groups', () => {
  const nested: Record<string, string[]> = {
    'g1@example.com': ['user:ann@example.com'],
    'g2@example.com': ['group:g1@example.com'],
    'g3@example.com': ['group:g2@example.com'],
    'g4@example.com': ['group:g3@example.com'],
    'g5@example.com': ['group:g4@example.com', 'serviceAccount:ci@my-project.iam.postern.internal'],
  }

  it('a grant to a group reaches members nested 5 deep', () => {
    const d = check({ policies: { [SERVICE]: invoker('group:g5@example.com') }, who: ann, groups: nested })
    expect(d).toEqual({ allow: true, reason: 'granted', grantedBy: { resource: SERVICE, role: 'roles/run.invoker', member: 'group:g5@example.com' } })
    expect(check({ policies: { [SERVICE]: invoker('group:g5@example.com') }, who: ci, groups: nested }).allow).toBe(true)
    expect(check({ policies: { [SERVICE]: invoker('group:g5@example.com') }, who: bob, groups: nested }).allow).toBe(false)
  })

  it('membership does not flow down: a member of the outer group is not in the inner one', () => {
    expect(check({ policies: { [SERVICE]: invoker('group:g1@example.com') }, who: ci, groups: nested }).allow).toBe(false)
  })

  it('a cycle in the stored data neither hangs nor grants outsiders', () => {
    const cyclic = { 'a@example.com': ['group:b@example.com', 'user:ann@example.com'], 'b@example.com': ['group:a@example.com'] }
    expect(check({ policies: { [SERVICE]: invoker('group:b@example.com') }, who: ann, groups: cyclic }).allow).toBe(true)
    expect(check({ policies: { [SERVICE]: invoker('group:b@example.com') }, who: bob, groups: cyclic }).allow).toBe(false)
  })
})

describe('federated principals', () => {
  const base = 'iam.postern/workforcePools/corp-pool'
  it.each([
    [`principal://${base}/subject/alice`, true],
    [`principal://${base}/subject/Alice`, false],
    [`principal://${base}/subject/bob`, false],
    [`principalSet://${base}/*`, true],
    ['principalSet://iam.postern/workforcePools/other-pool/*', false],
    [`principalSet://${base}/group/eng`, true],
    [`principalSet://${base}/group/sales`, false],
    [`principalSet://${base}/attribute.department/research`, true],
    [`principalSet://${base}/attribute.department/Research`, false],
    [`principalSet://${base}/attribute.department/sales`, false],
    [`principalSet://${base}/attribute.level/L5`, true],
    ['allAuthenticatedUsers', true],
    // a federated identity is not the local user of the same email
    ['user:alice@corp.example', false],
  ])('%s grants: %s', (member, allowed) => {
    expect(check({ policies: { [SERVICE]: invoker(member) }, who: alice }).allow).toBe(allowed)
  })

  it('a principalSet does not match local users', () => {
    expect(check({ policies: { [SERVICE]: invoker(`principalSet://${base}/*`) }, who: ann }).allow).toBe(false)
  })
})

describe('conditions', () => {
  const timed = { [SERVICE]: [{ role: 'roles/run.invoker', members: ['user:ann@example.com'], condition: DEADLINE }] }

  it('grant before the deadline, condition-false after', () => {
    expect(check({ policies: timed, who: ann, now: BEFORE })).toEqual({
      allow: true,
      reason: 'granted',
      grantedBy: { resource: SERVICE, role: 'roles/run.invoker', member: 'user:ann@example.com', condition: DEADLINE },
    })
    expect(check({ policies: timed, who: ann, now: AFTER })).toEqual({ allow: false, reason: 'condition-false' })
  })

  it('a condition on a binding that does not name the caller is not evaluated into the reason', () => {
    expect(check({ policies: timed, who: bob, now: AFTER })).toEqual({ allow: false, reason: 'no-binding' })
  })

  it('a condition that fails to evaluate grants nothing: condition-error', () => {
    const broken = { [SERVICE]: [{ role: 'roles/run.invoker', members: ['user:ann@example.com'], condition: BROKEN }] }
    expect(check({ policies: broken, who: ann })).toEqual({ allow: false, reason: 'condition-error' })
  })

  it('condition-error wins over condition-false, in either order', () => {
    const both = [
      { role: 'roles/run.invoker', members: ['user:ann@example.com'], condition: DEADLINE },
      { role: 'roles/run.invoker', members: ['user:ann@example.com'], condition: BROKEN },
    ]
    expect(check({ policies: { [SERVICE]: both }, who: ann, now: AFTER }).reason).toBe('condition-error')
    expect(check({ policies: { [SERVICE]: [...both].reverse() }, who: ann, now: AFTER }).reason).toBe('condition-error')
    expect(check({ policies: { [SERVICE]: [both[0]!], [ORGANIZATION]: [both[1]!] }, who: ann, now: AFTER }).reason).toBe('condition-error')
  })

  it('a broken condition does not block another binding that grants', () => {
    const policies = {
      [SERVICE]: [{ role: 'roles/run.invoker', members: ['user:ann@example.com'], condition: BROKEN }],
      [PROJECT]: [{ role: 'roles/run.developer', members: ['user:ann@example.com'], condition: DEADLINE }],
    }
    expect(check({ policies, who: ann })).toMatchObject({ allow: true, grantedBy: { resource: PROJECT, role: 'roles/run.developer' } })
  })

  it('an unconditional grant anywhere wins over a false condition nearer', () => {
    const policies = { ...timed, [ORGANIZATION]: invoker('user:ann@example.com') }
    expect(check({ policies, who: ann, now: AFTER })).toMatchObject({ allow: true, grantedBy: { resource: ORGANIZATION } })
  })

  it('resource.name is the resource asked about, even for an inherited binding', () => {
    const onlyHello = { title: 'only hello', expression: "resource.name.endsWith('/services/hello')" }
    const policies = { [PROJECT]: [{ role: 'roles/run.invoker', members: ['user:ann@example.com'], condition: onlyHello }] }
    expect(check({ policies, who: ann, resource: SERVICE }).allow).toBe(true)
    expect(check({ policies, who: ann, resource: OTHER_SERVICE })).toEqual({ allow: false, reason: 'condition-false' })
  })

  it('resource.type distinguishes services from service accounts', () => {
    const onlyServices = { title: 'services', expression: "resource.type == 'run.postern/Service'" }
    const policies = { [PROJECT]: [{ role: 'roles/editor', members: ['user:ann@example.com'], condition: onlyServices }] }
    expect(check({ policies, who: ann, permission: 'run.services.update' }).allow).toBe(true)
    const sa = `${PROJECT}/serviceAccounts/ci@my-project.iam.postern.internal`
    expect(check({ policies, who: ann, resource: sa, permission: 'iam.serviceAccounts.update' })).toEqual({ allow: false, reason: 'condition-false' })
  })

  it('conditional allUsers is granted, not public', () => {
    const policies = { [SERVICE]: [{ role: 'roles/run.invoker', members: ['allUsers'], condition: DEADLINE }] }
    expect(check({ policies, who: anonymous })).toMatchObject({ allow: true, reason: 'granted', grantedBy: { member: 'allUsers', condition: DEADLINE } })
  })
})

describe('principalMembers', () => {
  const none = new GroupIndex(new Map())

  it('anonymous is only allUsers', () => {
    expect(principalMembers(anonymous, none)).toEqual(new Set(['allUsers']))
    expect(principalMember(anonymous)).toBeUndefined()
    expect(describePrincipal(anonymous)).toBe('an unauthenticated caller')
  })

  it('a user is itself, its domain, its groups, allAuthenticatedUsers and allUsers', () => {
    const groups = new GroupIndex(new Map([['eng@example.com', new Set<Member>(['user:ann@example.com'])]]))
    expect(principalMembers(ann, groups)).toEqual(new Set(['allUsers', 'allAuthenticatedUsers', 'user:ann@example.com', 'domain:example.com', 'group:eng@example.com']))
    expect(describePrincipal(ann)).toBe('user:ann@example.com')
  })

  it('a service account has no domain member', () => {
    expect(principalMembers(ci, none)).toEqual(new Set(['allUsers', 'allAuthenticatedUsers', 'serviceAccount:ci@my-project.iam.postern.internal']))
  })

  it('a federated principal names its subject, pool, groups and attributes', () => {
    const base = 'iam.postern/workforcePools/corp-pool'
    expect(principalMembers(alice, none)).toEqual(
      new Set([
        'allUsers',
        'allAuthenticatedUsers',
        `principal://${base}/subject/alice`,
        `principalSet://${base}/*`,
        `principalSet://${base}/group/eng`,
        `principalSet://${base}/group/oncall`,
        `principalSet://${base}/attribute.department/research`,
        `principalSet://${base}/attribute.level/L5`,
      ]),
    )
  })

  it('every member it produces for a real principal parses back to itself', () => {
    for (const who of [ann, ci, alice]) for (const m of principalMembers(who, none)) expect(parseMember(m)).toBe(m)
  })
})

describe('explain', () => {
  it('lists every binding that could grant, whom it names and how its condition evaluated', () => {
    const req = request({
      policies: {
        [SERVICE]: [
          { role: 'roles/run.invoker', members: ['user:bob@example.org'] },
          { role: 'roles/run.invoker', members: ['user:ann@example.com'], condition: DEADLINE },
          { role: 'roles/run.viewer', members: ['user:ann@example.com'] },
        ],
        [ORGANIZATION]: [{ role: 'roles/editor', members: ['domain:example.com'], condition: BROKEN }],
      },
      who: ann,
      now: AFTER,
    })
    const e = explain(req)
    expect(e.allow).toBe(false)
    expect(e.reason).toBe('condition-error')
    expect(e.bindings).toEqual([
      { resource: SERVICE, role: 'roles/run.invoker', matchedMembers: [], grants: false },
      { resource: SERVICE, role: 'roles/run.invoker', condition: { ...DEADLINE, result: false }, matchedMembers: ['user:ann@example.com'], grants: false },
      { resource: ORGANIZATION, role: 'roles/editor', condition: { ...BROKEN, result: 'error' }, matchedMembers: ['domain:example.com'], grants: false },
    ])
  })

  it('agrees with decide and marks the granting binding', () => {
    const req = request({ policies: { [PROJECT]: [{ role: 'roles/run.invoker', members: ['user:ann@example.com'], condition: DEADLINE }] }, who: ann, now: BEFORE })
    const e = explain(req)
    expect(e.allow).toBe(true)
    expect(e.reason).toBe(decide(req).reason)
    expect(e.bindings.filter((b) => b.grants)).toHaveLength(1)
  })
})

describe('federated attribute names', () => {
  it('an attribute name that is not a valid name cannot pose as another attribute', () => {
    const mallory: Principal = { kind: 'federated', pool: 'corp-pool', subject: 'm', uid: 'f-m', groups: [], attributes: { 'department/research': 'x', Level: 'L9' } }
    const base = 'iam.postern/workforcePools/corp-pool'
    expect(check({ policies: { [SERVICE]: invoker(`principalSet://${base}/attribute.department/research/x`) }, who: mallory }).allow).toBe(false)
    expect([...principalMembers(mallory, new GroupIndex(new Map()))].filter((m) => m.includes('attribute.'))).toEqual([])
  })
})
