import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { addMember, removeMember, type ConditionChoice } from '../api/binding-edits.js'
import { PosternError } from '../core/errors.js'
import { compilePolicy } from './compiled-policy.js'
import type { Condition } from './conditions.js'
import { decide, type Decision, type DecisionRequest } from './decide.js'
import { explain } from './explain.js'
import { GroupIndex } from './groups.js'
import { parseMember, type Member } from './members.js'
import { canonical, LIMITS, normalizePolicy, type PolicyBody } from './policy.js'
import { principalMembers, type Principal } from './principal.js'
import { lineage, ORGANIZATION, resourceType } from './resources.js'
import { listRoles, type Role } from './roles.js'

/**
 * The policy algebra (STYLE.md): normalisation is idempotent and order-blind, adding a binding
 * never removes access, removing one never adds access, and the verdict does not depend on the
 * order the policies arrive in.
 */

const PROJECT = 'projects/my-project'
const SERVICE = `${PROJECT}/services/hello`
const SERVICE_ACCOUNT = `${PROJECT}/serviceAccounts/ci@my-project.iam.postern.internal`
const RESOURCES = [ORGANIZATION, PROJECT, SERVICE] as const
const FED = 'iam.postern/workforcePools/corp-pool'

// Spelled as a user might: case variants of one identity must collapse into one member.
const MEMBERS = [
  'user:ann@example.com',
  'user:Ann@Example.COM',
  'user:bob@example.org',
  'serviceAccount:ci@my-project.iam.postern.internal',
  'serviceaccount:CI@my-project.iam.postern.internal',
  'group:eng@example.com',
  'group:everyone@example.com',
  'domain:example.com',
  'allUsers',
  'allAuthenticatedUsers',
  `principal://${FED}/subject/alice`,
  `principalSet://${FED}/group/eng`,
  `principalSet://${FED}/attribute.department/research`,
  'deleted:user:ann@example.com?uid=u-old',
]
const ROLES = listRoles().map((r) => r.name)
const PERMISSIONS = [...new Set(listRoles().flatMap((r) => r.includedPermissions))]
const CONDITIONS: Condition[] = [
  { title: 'until December', expression: "request.time < timestamp('2026-12-01T00:00:00Z')" },
  { title: 'until December', description: 'with a reason', expression: "request.time < timestamp('2026-12-01T00:00:00Z')" },
  { title: 'only hello', expression: "resource.name.endsWith('/hello')" },
  { title: 'services', expression: "resource.type == 'run.postern/Service'" },
  { title: 'broken', expression: 'int(resource.name) == 1' },
]
const PRINCIPALS: Principal[] = [
  { kind: 'anonymous' },
  { kind: 'user', email: 'ann@example.com', uid: 'u-ann' },
  { kind: 'user', email: 'bob@example.org', uid: 'u-bob' },
  { kind: 'serviceAccount', email: 'ci@my-project.iam.postern.internal', uid: 'u-ci' },
  { kind: 'federated', pool: 'corp-pool', subject: 'alice', uid: 'f-a', groups: ['eng'], attributes: { department: 'research' } },
]
const GROUPS = new GroupIndex(
  new Map<string, Set<Member>>([
    ['eng@example.com', new Set<Member>(['user:ann@example.com'])],
    ['everyone@example.com', new Set<Member>(['group:eng@example.com', 'serviceAccount:ci@my-project.iam.postern.internal'])],
  ]),
)

type RawBinding = { role: string; members: string[]; condition?: Condition }
type RawPolicy = { bindings: RawBinding[] }

const rawBinding: fc.Arbitrary<RawBinding> = fc.record(
  { role: fc.constantFrom(...ROLES), members: fc.array(fc.constantFrom(...MEMBERS), { maxLength: 5 }), condition: fc.constantFrom(...CONDITIONS) },
  { requiredKeys: ['role', 'members'] },
)
const rawPolicy: fc.Arbitrary<RawPolicy> = fc.record({ bindings: fc.array(rawBinding, { maxLength: 8 }) })
const world = fc.tuple(rawPolicy, rawPolicy, rawPolicy).map(([org, project, service]) => ({
  [ORGANIZATION]: normalizePolicy(org),
  [PROJECT]: normalizePolicy(project),
  [SERVICE]: normalizePolicy(service),
}))
type World = Record<(typeof RESOURCES)[number], PolicyBody>

const question = fc.record({
  who: fc.constantFrom(...PRINCIPALS),
  permission: fc.constantFrom(...PERMISSIONS),
  resource: fc.constantFrom(SERVICE, PROJECT, ORGANIZATION, SERVICE_ACCOUNT),
  now: fc.constantFrom(Date.parse('2026-06-01T00:00:00Z'), Date.parse('2026-12-01T00:00:00Z')),
})
type Question = typeof question extends fc.Arbitrary<infer Q> ? Q : never

function request(w: World, q: Question): DecisionRequest {
  const chain = lineage(q.resource)
  return {
    policies: RESOURCES.filter((r) => chain.includes(r)).map((r, i) => compilePolicy(r, resourceType(r), w[r], i)),
    members: principalMembers(q.who, GROUPS),
    permission: q.permission,
    resource: { name: q.resource, type: resourceType(q.resource) },
    now: q.now,
  }
}

const ask = (w: World, q: Question): Decision => decide(request(w, q))

/** Runs an edit; a limit error is a legitimate refusal and makes the case vacuous. */
function tryEdit(edit: () => PolicyBody): PolicyBody | undefined {
  try {
    return edit()
  } catch (err) {
    if (err instanceof PosternError && err.status === 'INVALID_ARGUMENT') return undefined
    throw err
  }
}

const shuffled = <T>(items: readonly T[]): fc.Arbitrary<T[]> => fc.shuffledSubarray([...items], { minLength: items.length, maxLength: items.length })

describe('normalisation', () => {
  it('normalising twice changes nothing', () => {
    fc.assert(
      fc.property(rawPolicy, (raw) => {
        const once = normalizePolicy(raw)
        expect(normalizePolicy(once)).toEqual(once)
        expect(normalizePolicy(JSON.parse(JSON.stringify(once)))).toEqual(once)
        expect(canonical(once.bindings)).toEqual(once)
      }),
      { numRuns: 300 },
    )
  })

  it('is independent of the order of bindings and of members', () => {
    const rawAndShuffled = rawPolicy.chain((raw) =>
      fc.tuple(fc.constant(raw), shuffled(raw.bindings).chain((bs) => fc.tuple(...bs.map((b) => shuffled(b.members).map((members) => ({ ...b, members })))))),
    )
    fc.assert(
      fc.property(rawAndShuffled, ([raw, bindings]) => {
        expect(normalizePolicy({ bindings })).toEqual(normalizePolicy(raw))
      }),
      { numRuns: 300 },
    )
  })

  it('never changes a verdict', () => {
    fc.assert(
      fc.property(rawPolicy, question, (raw, q) => {
        // The same bindings compiled as written (members parsed, nothing merged or sorted).
        const asWritten: PolicyBody = {
          version: 3,
          bindings: raw.bindings.map((b) => ({ role: b.role as Role, members: b.members.map(parseMember), ...(b.condition ? { condition: b.condition } : {}) })),
        }
        const empty = normalizePolicy({})
        const w1: World = { [ORGANIZATION]: empty, [PROJECT]: asWritten, [SERVICE]: empty }
        const w2: World = { [ORGANIZATION]: empty, [PROJECT]: normalizePolicy(raw), [SERVICE]: empty }
        expect(ask(w2, q).allow).toBe(ask(w1, q).allow)
      }),
      { numRuns: 300 },
    )
  })

  it('a policy that passes normalisation stays within the limits, and one beyond them is refused', () => {
    const outcomes = { accepted: 0, refused: 0 }
    const bigBinding = fc.record(
      {
        role: fc.constantFrom('roles/run.invoker', 'roles/run.viewer', 'roles/owner'),
        members: fc.array(fc.nat({ max: 2_500 }), { minLength: 200, maxLength: 900, size: 'max' }),
        condition: fc.nat({ max: 3 }),
      },
      { requiredKeys: ['role', 'members'] },
    )
    const bigPolicy = fc.oneof(
      // around the 1,500 member limit, with duplicates across and within bindings
      fc.array(bigBinding, { minLength: 1, maxLength: 4, size: 'max' }),
      // around the limit of 100 conditional bindings; some conditions repeat and merge
      fc
        .uniqueArray(fc.nat({ max: 170 }), { minLength: 90, maxLength: 120, size: 'max' })
        .map((ids) => ids.map((id) => ({ role: 'roles/run.invoker', members: [id % 7], condition: id % 150 }))),
    )
    fc.assert(
      fc.property(bigPolicy, (bindings) => {
        const raw = {
          bindings: bindings.map((b) => ({
            role: b.role,
            members: b.members.map((i) => `user:u${i}@x.com`),
            ...(b.condition === undefined ? {} : { condition: { title: `c${b.condition}`, expression: 'true' } }),
          })),
        }
        // A model of the limits: unique members per (role, condition), summed; distinct conditional keys.
        const merged = new Map<string, Set<number>>()
        for (const b of bindings) {
          const key = `${b.role}|${b.condition ?? '-'}`
          const set = merged.get(key) ?? new Set<number>()
          for (const m of b.members) set.add(m)
          merged.set(key, set)
        }
        const nonEmpty = [...merged].filter(([, s]) => s.size > 0)
        const total = nonEmpty.reduce((n, [, s]) => n + s.size, 0)
        const conditional = nonEmpty.filter(([k]) => !k.endsWith('|-')).length
        const overLimit = total > LIMITS.members || conditional > LIMITS.conditionalBindings || bindings.some((b) => b.members.length > LIMITS.members)

        let policy: PolicyBody
        try {
          policy = normalizePolicy(raw)
        } catch (err) {
          expect(err).toBeInstanceOf(PosternError)
          expect((err as PosternError).status).toBe('INVALID_ARGUMENT')
          expect(overLimit).toBe(true)
          outcomes.refused++
          return
        }
        expect(overLimit).toBe(false)
        outcomes.accepted++
        const members = policy.bindings.reduce((n, b) => n + b.members.length, 0)
        const conditionalBindings = policy.bindings.filter((b) => b.condition).length
        expect(members).toBe(total)
        expect(members).toBeLessThanOrEqual(LIMITS.members)
        expect(conditionalBindings).toBeLessThanOrEqual(LIMITS.conditionalBindings)
        expect(policy.version).toBe(conditionalBindings > 0 ? 3 : 1)
        expect(policy.bindings.every((b) => b.members.length > 0)).toBe(true)
      }),
      { numRuns: 150 },
    )
    // Both sides of the limits were exercised.
    expect(outcomes.accepted).toBeGreaterThan(10)
    expect(outcomes.refused).toBeGreaterThan(10)
  })
})

describe('access is monotone in the bindings', () => {
  const addition = fc.record({
    target: fc.constantFrom(...RESOURCES),
    member: fc.constantFrom(...MEMBERS),
    role: fc.constantFrom(...ROLES),
    condition: fc.option(fc.constantFrom(...CONDITIONS), { nil: undefined }),
  })

  it('adding a binding never removes access', () => {
    fc.assert(
      fc.property(world, question, addition, (w, q, add) => {
        // As the CLI and the console do it: the member as typed, the edit from src/api, and the
        // server's normalisation of what they send.
        const edited = tryEdit(() => normalizePolicy(addMember(w[add.target], add.member, add.role, add.condition)))
        if (!edited) return
        const before = ask(w, q)
        const after = ask({ ...w, [add.target]: edited }, q)
        if (before.allow) expect(after.allow).toBe(true)
        // and what it grants is granted
        if (!add.condition) {
          const granted = ask({ ...w, [add.target]: edited }, { ...q, permission: 'run.routes.invoke' })
          if (add.role === 'roles/run.invoker' && lineage(q.resource).includes(add.target) && principalMembers(q.who, GROUPS).has(parseMember(add.member))) {
            expect(granted.allow).toBe(true)
          }
        }
      }),
      { numRuns: 500 },
    )
  })

  it('removing a member from a binding never adds access', () => {
    const removal = fc.record({ target: fc.constantFrom(...RESOURCES), binding: fc.nat(), member: fc.nat(), mode: fc.constantFrom('selected', 'all', 'whole') })
    fc.assert(
      fc.property(world, question, removal, (w, q, rm) => {
        const policy = w[rm.target]
        if (policy.bindings.length === 0) return
        const b = policy.bindings[rm.binding % policy.bindings.length]!
        const member = b.members[rm.member % b.members.length]!
        const choice: ConditionChoice = rm.mode === 'all' ? 'all' : (b.condition ?? 'none')
        const edited =
          rm.mode === 'whole'
            ? canonical(policy.bindings.filter((x) => x !== b)) // the whole binding goes
            : normalizePolicy(removeMember(policy, member, b.role, choice))
        expect(edited.bindings.length).toBeLessThanOrEqual(policy.bindings.length)
        const before = ask(w, q)
        const after = ask({ ...w, [rm.target]: edited }, q)
        if (after.allow) expect(before.allow).toBe(true)
      }),
      { numRuns: 500 },
    )
  })
})

describe('decide', () => {
  it('is independent of the order of the policies it is given, reason and grant included', () => {
    fc.assert(
      fc.property(world, question, shuffled([0, 1, 2]), (w, q, order) => {
        const req = request(w, q)
        const permuted = { ...req, policies: order.map((i) => req.policies[i]).filter((p) => p !== undefined) }
        expect(decide(permuted)).toEqual(decide(req))
        expect(explain(permuted)).toEqual(explain(req))
      }),
      { numRuns: 500 },
    )
  })

  it('explain agrees with decide: allowed exactly when some listed binding grants', () => {
    fc.assert(
      fc.property(world, question, (w, q) => {
        const req = request(w, q)
        const e = explain(req)
        const d = decide(req)
        expect(e.allow).toBe(d.allow)
        expect(e.reason).toBe(d.reason)
        expect(e.bindings.some((b) => b.grants)).toBe(d.allow)
      }),
      { numRuns: 300 },
    )
  })

  it('anonymous callers are allowed only through allUsers', () => {
    fc.assert(
      fc.property(world, question, (w, q) => {
        const d = ask(w, { ...q, who: { kind: 'anonymous' } })
        if (d.allow) expect(d.grantedBy?.member).toBe('allUsers')
      }),
      { numRuns: 300 },
    )
  })
})
