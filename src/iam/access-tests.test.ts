import { describe, expect, it } from 'vitest'
import { AccessWorld, brokenTests, describeFailure, parseAccessTests, policyEffect, runSuites, testMembers, type Suite } from './access-tests.js'
import { GroupIndex } from './groups.js'
import type { Member } from './members.js'
import type { PolicyBody } from './policy.js'

const SVC = 'projects/my-project/services/payments'
const groups = (edges: Record<string, Member[]>) => new GroupIndex(new Map(Object.entries(edges).map(([g, m]) => [g, new Set(m)])))
const invokers = (...members: Member[]): PolicyBody => ({ version: 1, bindings: [{ role: 'roles/run.invoker', members }] })
const NOW = Date.parse('2026-12-01T00:00:00Z')

describe('access tests', () => {
  it('parses entries, defaulting the permission, and names the entry at fault', () => {
    expect(parseAccessTests([{ member: 'user:Bob@Example.com', expect: 'deny' }, { member: 'group:oncall@example.com', permission: 'run.services.get', expect: 'allow' }])).toEqual([
      { member: 'user:bob@example.com', permission: 'run.routes.invoke', expect: 'deny' },
      { member: 'group:oncall@example.com', permission: 'run.services.get', expect: 'allow' },
    ])
    expect(() => parseAccessTests({ tests: [] })).toThrow('must be a list')
    expect(() => parseAccessTests([{ member: 'user:a@example.com', expect: 'deny' }, { expect: 'deny' }])).toThrow('test 2: member is required')
    expect(() => parseAccessTests([{ member: 'user:a@example.com', permission: 'run.routes.invok', expect: 'deny' }])).toThrow("test 1: Permission 'run.routes.invok' is not known.")
    expect(() => parseAccessTests([{ member: 'user:a@example.com', permission: 'constructor', expect: 'deny' }])).toThrow('is not known')
    expect(() => parseAccessTests([{ member: 'deleted:user:a@example.com?uid=1', expect: 'deny' }])).toThrow('a deleted identity')
    expect(() => parseAccessTests([{ member: 'user:a@example.com', expect: 'Deny' }])).toThrow('expect must be allow or deny')
    expect(() => parseAccessTests(Array.from({ length: 101 }, () => ({ member: 'allUsers', expect: 'deny' })))).toThrow('At most 100')
  })

  it('tests a user with its groups and domain, and a group for what membership in it alone grants', () => {
    const g = groups({ 'oncall@example.com': ['user:bob@example.com'], 'eng@example.com': ['group:oncall@example.com'] })
    expect(testMembers('user:bob@example.com', g)).toEqual(new Set(['allUsers', 'allAuthenticatedUsers', 'user:bob@example.com', 'domain:example.com', 'group:oncall@example.com', 'group:eng@example.com']))
    expect(testMembers('group:oncall@example.com', g)).toEqual(new Set(['allUsers', 'allAuthenticatedUsers', 'group:oncall@example.com', 'group:eng@example.com']))
    expect(testMembers('allUsers', g)).toEqual(new Set(['allUsers']))
    expect(testMembers('principal://iam.postern/workforcePools/corp-pool/subject/u1', g)).toEqual(
      new Set(['allUsers', 'allAuthenticatedUsers', 'principal://iam.postern/workforcePools/corp-pool/subject/u1', 'principalSet://iam.postern/workforcePools/corp-pool/*']),
    )
  })

  it('a change breaks a test that passed before and fails after; a test that already failed does not block', () => {
    const tests = parseAccessTests([{ member: 'user:bob@example.com', expect: 'deny' }, { member: 'user:carol@example.com', expect: 'allow' }])
    const suite: Suite = { resource: SVC, tests, targets: [SVC] }
    const before = new AccessWorld(new Map([[SVC, invokers('group:oncall@example.com')]]), groups({ 'oncall@example.com': [] }), NOW)
    const ran = runSuites([suite], before)
    expect(ran.map((o) => o.pass)).toEqual([true, false])
    const joined = new AccessWorld(new Map([[SVC, invokers('group:oncall@example.com')]]), groups({ 'oncall@example.com': ['user:bob@example.com'] }), NOW)
    const broken = brokenTests(ran, runSuites([suite], joined))
    expect(broken.map((o) => o.index)).toEqual([0])
    expect(describeFailure(broken[0]!, NOW, 'would be')).toBe(
      `access test 1 of ${SVC}, {member: user:bob@example.com, permission: run.routes.invoke, expect: deny}: user:bob@example.com would be allowed run.routes.invoke on ${SVC} (granted by roles/run.invoker on ${SVC} to group:oncall@example.com)`,
    )
  })

  it('evaluates conditions at the world’s instant and inherits project and organization grants', () => {
    const timed: PolicyBody = { version: 3, bindings: [{ role: 'roles/run.invoker', members: ['user:temp@example.com'], condition: { title: 't', expression: "request.time < timestamp('2026-12-01T01:00:00Z')" } }] }
    const tests = parseAccessTests([{ member: 'user:temp@example.com', expect: 'allow' }, { member: 'user:ann@example.com', expect: 'deny' }])
    const suite: Suite = { resource: 'projects/my-project', tests, targets: ['projects/my-project', SVC] }
    const policies = new Map([[SVC, timed], ['organizations/local', invokers('user:ann@example.com')]])
    const early = runSuites([suite], new AccessWorld(policies, groups({}), NOW))
    // The conditional grant is on the service only, so the project itself fails the allow test; the org grant fails the deny test.
    expect(early.map((o) => [o.pass, o.failure?.target])).toEqual([[false, 'projects/my-project'], [false, 'projects/my-project']])
    const onService = runSuites([{ ...suite, targets: [SVC] }], new AccessWorld(policies, groups({}), NOW))
    expect(onService[0]!.pass).toBe(true)
    const late = runSuites([{ ...suite, targets: [SVC] }], new AccessWorld(policies, groups({}), NOW + 2 * 3600_000))
    expect(late[0]!.pass).toBe(false)
    expect(describeFailure(late[0]!, NOW + 2 * 3600_000, 'is')).toContain('is denied run.routes.invoke on projects/my-project/services/payments (a binding names it, but its condition is false at 2026-12-01T02:00:00.000Z)')
  })

  it('the effect of a policy change lists who gains and loses which permission on that resource', () => {
    const before = new AccessWorld(new Map([[SVC, { version: 1, bindings: [{ role: 'roles/run.viewer', members: ['user:dave@example.com'] }] } as PolicyBody]]), groups({}), NOW)
    const after = before.withPolicy(SVC, { version: 1, bindings: [{ role: 'roles/run.invoker', members: ['user:dave@example.com', 'user:erin@example.com'] }] })
    const all = ['run.routes.invoke', 'run.services.get', 'run.services.list', 'run.services.getIamPolicy', 'postern.users.create']
    expect(policyEffect(SVC, before, after, all)).toEqual([
      { member: 'user:dave@example.com', gained: ['run.routes.invoke'], lost: ['run.services.get', 'run.services.list', 'run.services.getIamPolicy'] },
      { member: 'user:erin@example.com', gained: ['run.routes.invoke'], lost: [] },
    ])
    expect(policyEffect(SVC, before, before, all)).toEqual([])
  })
})
