import { invalid } from '../core/errors.js'
import { compilePolicy, type CompiledPolicy } from './compiled-policy.js'
import { decide, type Decision } from './decide.js'
import type { GroupIndex } from './groups.js'
import { emailMember, FEDERATION_PREFIX, parseMember, printable, type Member } from './members.js'
import type { PolicyBody } from './policy.js'
import { principalMembers } from './principal.js'
import { lineage, resourceType } from './resources.js'
import { parsePermission, type Permission } from './roles.js'

/**
 * Policy tests, pure (DESIGN §9): assertions a service or project carries — "bob must be denied
 * run.routes.invoke", "group:oncall must be allowed" — evaluated with the real decision code
 * (decide.ts) over a world of policies and group memberships at one instant. Every policy write
 * is checked against them: a write that makes a passing test fail is refused.
 */
export type Expectation = 'allow' | 'deny'

export interface AccessTest {
  member: Member
  permission: Permission
  expect: Expectation
}

export const MAX_TESTS = 100
export const DEFAULT_PERMISSION: Permission = 'run.routes.invoke'

/** Validates tests from the wire (a list, or `{tests: [...]}` as `get` would print it); errors name the entry and field. */
export function parseAccessTests(raw: unknown): AccessTest[] {
  const list = Array.isArray(raw) ? raw : undefined
  if (!list) throw invalid('Access tests must be a list of {member, permission, expect} entries.')
  if (list.length > MAX_TESTS) throw invalid(`At most ${MAX_TESTS} access tests per resource; this list has ${list.length}.`)
  return list.map((entry, i) => parseEntry(entry, `test ${i + 1}`))
}

function parseEntry(raw: unknown, at: string): AccessTest {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw invalid(`${at}: expected {member, permission, expect}.`)
  const { member, permission, expect, ...rest } = raw as Record<string, unknown>
  const extra = Object.keys(rest)
  if (extra.length) throw invalid(`${at}: unknown field '${printable(extra[0]!)}' (an entry has member, permission and expect).`)
  if (member === undefined) throw invalid(`${at}: member is required, e.g. user:bob@example.com or group:oncall@example.com.`)
  const parsedMember = within(at, () => parseMember(member))
  if (parsedMember.startsWith('deleted:')) throw invalid(`${at}: a deleted identity (${parsedMember}) holds nothing; test a live member.`)
  const parsedPermission = permission === undefined ? DEFAULT_PERMISSION : within(at, () => parsePermission(permission))
  if (expect !== 'allow' && expect !== 'deny') throw invalid(`${at}: expect must be allow or deny, not '${printable(String(expect))}'.`)
  return { member: parsedMember, permission: parsedPermission, expect }
}

function within<T>(at: string, parse: () => T): T {
  try {
    return parse()
  } catch (err) {
    throw invalid(`${at}: ${(err as Error).message}`)
  }
}

/** As the test reads in a file: {member: user:bob@example.com, permission: run.routes.invoke, expect: deny}. */
export function describeTest(t: AccessTest): string {
  return `{member: ${t.member}, permission: ${t.permission}, expect: ${t.expect}}`
}

/**
 * The members a binding may name to reach a test's member. A user or service account is tested as
 * it would call: with its groups (transitively), its domain, allAuthenticatedUsers and allUsers.
 * A group is tested for what membership in it alone grants: the group, the groups that contain
 * it, allAuthenticatedUsers and allUsers. Federated members likewise with their pool.
 */
export function testMembers(member: Member, groups: GroupIndex): Set<Member> {
  const set = new Set<Member>(['allUsers'])
  if (member === 'allUsers') return set
  set.add('allAuthenticatedUsers')
  const colon = member.indexOf(':')
  const kind = member.slice(0, colon)
  const rest = member.slice(colon + 1)
  if (kind === 'user' || kind === 'serviceAccount') return principalMembers({ kind, email: rest, uid: '' }, groups)
  set.add(member)
  if (kind === 'group') for (const g of groups.groupsOf(member)) set.add(emailMember('group', g))
  if (kind === 'principal' || kind === 'principalSet') {
    const pool = rest.slice(2 + FEDERATION_PREFIX.length).split('/')[0]!
    set.add(`principalSet://${FEDERATION_PREFIX}${pool}/*`)
  }
  return set
}

/** Policies and group memberships at one instant; compiled policies are built once per world. */
export class AccessWorld {
  private readonly compiled = new Map<string, CompiledPolicy | null>()

  constructor(
    private readonly policies: ReadonlyMap<string, PolicyBody>,
    readonly groups: GroupIndex,
    readonly now: number,
  ) {}

  /** The same world with one resource's policy replaced. */
  withPolicy(resource: string, policy: PolicyBody): AccessWorld {
    return new AccessWorld(new Map([...this.policies, [resource, policy]]), this.groups, this.now)
  }

  policy(resource: string): PolicyBody | undefined {
    return this.policies.get(resource)
  }

  decide(member: Member, permission: Permission, resource: string): Decision {
    return decide({
      policies: lineage(resource).flatMap((name) => this.compiledOf(name) ?? []),
      members: testMembers(member, this.groups),
      permission,
      resource: { name: resource, type: resourceType(resource) },
      now: this.now,
    })
  }

  private compiledOf(name: string): CompiledPolicy | null {
    let c = this.compiled.get(name)
    if (c === undefined) {
      const body = this.policies.get(name)
      c = body ? compilePolicy(name, resourceType(name), body, 0) : null
      this.compiled.set(name, c)
    }
    return c
  }
}

/** Tests declared on `resource`, checked on each of `targets` (a service: itself; a project: itself and its services). */
export interface Suite {
  resource: string
  tests: readonly AccessTest[]
  targets: readonly string[]
}

export interface Outcome {
  suite: string
  index: number
  test: AccessTest
  pass: boolean
  /** Where a failing test fails, and what the decision there was. */
  failure?: { target: string; decision: Decision }
}

export function runSuites(suites: readonly Suite[], world: AccessWorld): Outcome[] {
  const out: Outcome[] = []
  for (const suite of suites) {
    suite.tests.forEach((test, index) => {
      for (const target of suite.targets) {
        const decision = world.decide(test.member, test.permission, target)
        if (decision.allow !== (test.expect === 'allow')) {
          out.push({ suite: suite.resource, index, test, pass: false, failure: { target, decision } })
          return
        }
      }
      out.push({ suite: suite.resource, index, test, pass: true })
    })
  }
  return out
}

/** The tests a change breaks: passing before it, failing after. (A test that already failed does not block unrelated writes.) */
export function brokenTests(before: readonly Outcome[], after: readonly Outcome[]): Outcome[] {
  const passed = new Set(before.filter((o) => o.pass).map((o) => `${o.suite}\u0000${o.index}`))
  return after.filter((o) => !o.pass && passed.has(`${o.suite}\u0000${o.index}`))
}

/** "access test 2 of projects/p/services/s, {…}: user:bob@example.com would be allowed run.routes.invoke on … (granted by …)" */
export function describeFailure(o: Outcome, now: number, tense: 'would be' | 'is'): string {
  const f = o.failure!
  const verdict = f.decision.allow ? 'allowed' : 'denied'
  let why = ''
  const g = f.decision.grantedBy
  if (g) why = ` (granted by ${g.role} on ${g.resource} to ${g.member}${g.condition ? `, under the condition '${g.condition.title}', true at ${iso(now)}` : ''})`
  else if (f.decision.reason === 'condition-false') why = ` (a binding names it, but its condition is false at ${iso(now)})`
  else if (f.decision.reason === 'condition-error') why = ' (a binding names it, but its condition fails to evaluate)'
  else why = ' (no binding grants it)'
  return `access test ${o.index + 1} of ${o.suite}, ${describeTest(o.test)}: ${o.test.member} ${tense} ${verdict} ${o.test.permission} on ${f.target}${why}`
}

const iso = (ms: number) => new Date(ms).toISOString()

/** Permissions worth reporting in a policy's effect, by the kind of resource. */
const RELEVANT: Record<string, readonly string[]> = {
  'run.postern/Service': ['run.'],
  'postern.project/Project': ['run.', 'resourcemanager.projects.', 'iam.serviceAccounts.', 'iam.serviceAccountKeys.'],
  'postern.organization/Organization': [''],
  'iam.postern/ServiceAccount': ['iam.serviceAccounts.', 'iam.serviceAccountKeys.'],
}

export interface MemberChange {
  member: Member
  gained: Permission[]
  lost: Permission[]
}

/**
 * Who gains and loses which permission on `resource` when its policy changes from `before` to
 * `after` (the dry run of a policy write): every member either version names, decided in both
 * worlds with everything inherited and at the same instant.
 */
export function policyEffect(resource: string, before: AccessWorld, after: AccessWorld, permissions: readonly Permission[]): MemberChange[] {
  const prefixes = RELEVANT[resourceType(resource)] ?? ['']
  const relevant = permissions.filter((p) => prefixes.some((prefix) => p.startsWith(prefix)))
  const members = new Set<Member>()
  for (const world of [before, after]) for (const b of world.policy(resource)?.bindings ?? []) for (const m of b.members) if (!m.startsWith('deleted:')) members.add(m)
  const changes: MemberChange[] = []
  for (const member of [...members].sort()) {
    const gained: Permission[] = []
    const lost: Permission[] = []
    for (const p of relevant) {
      const was = before.decide(member, p, resource).allow
      const will = after.decide(member, p, resource).allow
      if (!was && will) gained.push(p)
      if (was && !will) lost.push(p)
    }
    if (gained.length || lost.length) changes.push({ member, gained, lost })
  }
  return changes
}
