import { PosternError } from '../core/errors.js'
import { AccessWorld, brokenTests, type AccessTest, describeFailure, parseAccessTests, policyEffect, runSuites, type MemberChange, type Outcome, type Suite } from '../iam/access-tests.js'
import { GroupIndex } from '../iam/groups.js'
import type { Member } from '../iam/members.js'
import type { PolicyBody } from '../iam/policy.js'
import { lineage, ORGANIZATION, resourceType, serviceName } from '../iam/resources.js'
import { getRole } from '../iam/roles.js'
import type { StoreTx } from '../store/store.js'

/**
 * The I/O around policy tests (iam/access-tests.ts): which suites a write could affect, the world
 * they are decided in — read in the writer's own transaction, so two writes that are each fine
 * but together break a test cannot both commit — and the refusal.
 */

/** The uid of a project or service that exists now; tests saved for an earlier namesake do not apply. */
export async function resourceUid(tx: StoreTx, resource: string): Promise<string | undefined> {
  const [, projectId, kind, serviceId] = resource.split('/')
  if (kind === 'services') return (await tx.getService(projectId!, serviceId!))?.uid
  return (await tx.getProject(projectId!))?.uid
}

/** What a project's tests are checked on: the project itself and each of its services. */
async function targetsOf(tx: StoreTx, resource: string): Promise<string[]> {
  if (resourceType(resource) !== 'postern.project/Project') return [resource]
  const projectId = resource.split('/')[1]!
  return [resource, ...(await tx.listServices(projectId)).map((s) => serviceName(s.projectId, s.serviceId))]
}

/** Every suite a change to `scope`'s policy could affect ('everything' for group changes and the organization). */
export async function suitesFor(tx: StoreTx, scope: string | 'everything'): Promise<Suite[]> {
  const all = await tx.listAccessTests()
  if (all.length === 0) return []
  const type = scope === 'everything' ? undefined : resourceType(scope)
  if (type === 'iam.postern/ServiceAccount') return [] // no test is decided on a service account's policy
  const affected = all.filter((record) => {
    if (scope === 'everything' || scope === ORGANIZATION) return true
    if (type === 'postern.project/Project') return record.resource === scope || record.resource.startsWith(`${scope}/`)
    return record.resource === scope || record.resource === lineage(scope)[1] // the service's own, or its project's
  })
  const suites: Suite[] = []
  for (const record of affected) {
    if ((await resourceUid(tx, record.resource)) !== record.resourceUid) continue
    suites.push({ resource: record.resource, tests: storedTests(record.tests), targets: await targetsOf(tx, record.resource) })
  }
  return suites
}

/**
 * Tests were validated when they were set; should a later version stop knowing a permission they
 * name, each entry that no longer parses is left out rather than refusing every policy write.
 */
function storedTests(raw: unknown[]): AccessTest[] {
  return raw.flatMap((entry) => {
    try {
      return parseAccessTests([entry])
    } catch {
      return []
    }
  })
}

/** Reads the policies the suites' targets inherit from, and every group membership. */
export async function loadWorld(tx: StoreTx, targets: Iterable<string>, now: number): Promise<AccessWorld> {
  const names = new Set<string>()
  for (const t of targets) for (const name of lineage(t)) names.add(name)
  const policies = new Map<string, PolicyBody>()
  for (const name of names) {
    const record = await tx.getPolicy(name)
    if (record) policies.set(name, record.policy)
  }
  const members = new Map<string, Set<Member>>()
  for (const m of await tx.listMemberships()) {
    let set = members.get(m.group)
    if (!set) members.set(m.group, (set = new Set()))
    set.add(m.member as Member)
  }
  return new AccessWorld(policies, new GroupIndex(members), now)
}

const targetsIn = (suites: readonly Suite[]) => suites.flatMap((s) => s.targets)

/** The tests that writing `next` as `resource`'s policy would break (empty when none). */
export async function testsBrokenByPolicy(tx: StoreTx, resource: string, next: PolicyBody, now: number): Promise<Outcome[]> {
  const suites = await suitesFor(tx, resource)
  if (suites.length === 0) return []
  const before = await loadWorld(tx, [...targetsIn(suites), resource], now)
  return brokenTests(runSuites(suites, before), runSuites(suites, before.withPolicy(resource, next)))
}

/** Refuses a policy write that would break a test; call it in the writing transaction, before the write. */
export async function assertPolicyKeepsTests(tx: StoreTx, resource: string, next: PolicyBody, now: number, what = 'This change'): Promise<void> {
  const broken = await testsBrokenByPolicy(tx, resource, next, now)
  if (broken.length) throw refusal(broken, now, what)
}

/**
 * Runs a change to group memberships (adding, removing, deleting a group) inside its
 * transaction, and refuses it — rolling it back — when it breaks a test. The world is read before
 * and after the change itself, so whatever the change touches (a deleted group's bindings too)
 * is accounted for.
 */
export async function guardGroupChange<T>(tx: StoreTx, now: number, write: () => Promise<T>): Promise<T> {
  const suites = await suitesFor(tx, 'everything')
  if (suites.length === 0) return write()
  const before = runSuites(suites, await loadWorld(tx, targetsIn(suites), now))
  const result = await write()
  const broken = brokenTests(before, runSuites(suites, await loadWorld(tx, targetsIn(suites), now)))
  if (broken.length) throw refusal(broken, now, 'This change to group membership')
  return result
}

export function refusal(broken: readonly Outcome[], now: number, what: string): PosternError {
  const shown = broken.slice(0, 3).map((o) => describeFailure(o, now, 'would be'))
  const more = broken.length > shown.length ? `; and ${broken.length - shown.length} more` : ''
  return new PosternError('FAILED_PRECONDITION', `${what} would break ${shown.join('; ')}${more}. Nothing was saved.`)
}

const ALL_PERMISSIONS = getRole('roles/owner')!.includedPermissions

/** A dry run of a policy write: who gains and loses which permission, and the tests it would break. */
export async function simulatePolicy(tx: StoreTx, resource: string, next: PolicyBody, now: number): Promise<{ changes: MemberChange[]; broken: Outcome[] }> {
  const suites = await suitesFor(tx, resource)
  const before = await loadWorld(tx, [...targetsIn(suites), resource], now)
  const after = before.withPolicy(resource, next)
  return { changes: policyEffect(resource, before, after, ALL_PERMISSIONS), broken: brokenTests(runSuites(suites, before), runSuites(suites, after)) }
}
