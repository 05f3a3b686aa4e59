import * as z from 'zod'
import { PosternError } from '../../core/errors.js'
import { missingResource } from '../missing-resource.js'
import { parseWith } from '../../core/validate.js'
import { describeFailure, describeTest, parseAccessTests, runSuites, type Outcome } from '../../iam/access-tests.js'
import { checkRolesGrantable, normalizePolicy } from '../../iam/policy.js'
import { parseProjectId, parseServiceId, projectName, resourceType, serviceName } from '../../iam/resources.js'
import type { Router } from '../../http/router.js'
import type { StoreTx } from '../../store/store.js'
import { authorize } from '../access.js'
import { loadWorld, resourceUid, simulatePolicy, suitesFor } from '../access-test-guard.js'
import { checkPolicyWrite } from '../policy-write-check.js'
import { allowRead, mutate, ok, rfc3339, type Handler, type RequestContext } from '../handler.js'
import { policyTargets, readPolicy } from './iam-policy.js'

const SetTests = z.strictObject({ tests: z.array(z.unknown()).max(1_000) })
const Simulate = z.strictObject({ policy: z.record(z.string(), z.unknown()) })

/** The resources that carry tests: services and projects. */
const testTargets: Record<string, (c: RequestContext) => { resource: string; prefix: 'run.services' | 'resourcemanager.projects' }> = {
  '/v2/projects/{project}/services/{service}': (c) => ({ resource: serviceName(parseProjectId(c.params.project), parseServiceId(c.params.service)), prefix: 'run.services' }),
  '/v1/projects/{project}': (c) => ({ resource: projectName(parseProjectId(c.params.project)), prefix: 'resourcemanager.projects' }),
}

const resultView = (o: Outcome, now: number) => ({
  test: o.test,
  result: o.pass ? 'PASS' : 'FAIL',
  ...(o.failure && { failure: describeFailure(o, now, 'is') }),
})

/**
 * Policy tests (DESIGN §9): `{resource}:setAccessTests` replaces a service's or project's tests
 * (they must hold now), `{resource}:runAccessTests` runs them now, and
 * `{resource}:simulateSetIamPolicy` is the dry run of any policy write: who gains and loses which
 * permission, which tests it would break, and whether the write would be refused.
 */
export function accessTestRoutes(r: Router<Handler>): void {
  for (const [base, target] of Object.entries(testTargets)) {
    r.add('POST', `${base}:setAccessTests`, async (c) => {
      c.caller()
      const t = target(c)
      const tests = parseAccessTests(parseWith(SetTests, await c.json()).tests)
      const now = c.deps.clock()
      const op = { method: 'setAccessTests', resource: t.resource, permission: `${t.prefix}.setIamPolicy`, details: { tests: tests.map(describeTest) } }
      const results = await mutate(c, op, async (tx) => {
        const uid = await existing(tx, t.resource)
        await tx.putAccessTests({ resource: t.resource, resourceUid: uid, tests, updateTime: now, updater: c.caller().member })
        const outcomes = await runOwn(tx, t.resource, now)
        const failing = outcomes.filter((o) => !o.pass)
        if (failing.length) {
          const shown = failing.slice(0, 3).map((o) => describeFailure(o, now, 'is'))
          throw new PosternError('FAILED_PRECONDITION', `These tests do not hold now, so they were not saved: ${shown.join('; ')}${failing.length > 3 ? `; and ${failing.length - 3} more` : ''}. Change the policy first, or the tests.`)
        }
        return outcomes
      })
      return ok({ resource: t.resource, evaluatedAt: rfc3339(now), results: results.map((o) => resultView(o, now)) })
    })

    r.add('POST', `${base}:runAccessTests`, async (c) => {
      c.caller()
      const t = target(c)
      allowRead(c, `${t.prefix}.getIamPolicy`, t.resource)
      const now = c.deps.clock()
      await existing(c.deps.store, t.resource)
      const outcomes = await runOwn(c.deps.store, t.resource, now)
      return ok({ resource: t.resource, evaluatedAt: rfc3339(now), results: outcomes.map((o) => resultView(o, now)) })
    })
  }

  for (const [base, target] of Object.entries(policyTargets)) {
    r.add('POST', `${base}:simulateSetIamPolicy`, async (c) => {
      c.caller()
      const t = target(c)
      const { policy: raw } = parseWith(Simulate, await c.json())
      allowRead(c, `${t.prefix}.getIamPolicy`, t.resource)
      // Input the write would reject outright is rejected here too, in its words (400).
      const incoming = normalizePolicy(raw)
      checkRolesGrantable(incoming, resourceType(t.resource))
      const etag = raw.etag === undefined || raw.etag === '' ? undefined : String(raw.etag)
      if (!(await t.exists(c.deps.store))) throw missingResource(t.resource)
      const current = await readPolicy(c.deps.store, t.resource)
      const now = c.deps.clock()
      // What the write would refuse, as it would: first its permission check (here not audited as a
      // denial, since nothing was attempted), then the checks the write makes in its transaction.
      let refused: PosternError | undefined
      try {
        authorize(c.deps.directory, c.caller(), `${t.prefix}.setIamPolicy`, t.resource, now)
        await checkPolicyWrite(c.deps.store, t.resource, current, incoming, etag, now)
      } catch (err) {
        if (!(err instanceof PosternError)) throw err
        refused = err
      }
      const { changes, broken } = await simulatePolicy(c.deps.store, t.resource, incoming, now)
      return ok({
        resource: t.resource,
        evaluatedAt: rfc3339(now),
        policy: { ...incoming, etag: current.etag },
        changes,
        brokenTests: broken.map((o) => ({ resource: o.suite, index: o.index + 1, test: o.test, failure: describeFailure(o, now, 'would be') })),
        ...(refused && { refusal: { status: refused.status, message: refused.message } }),
      })
    })
  }
}

async function existing(tx: StoreTx, resource: string): Promise<string> {
  const uid = await resourceUid(tx, resource)
  if (!uid) throw missingResource(resource)
  return uid
}

/** The resource's own tests, run now. */
async function runOwn(tx: StoreTx, resource: string, now: number): Promise<Outcome[]> {
  const suites = (await suitesFor(tx, resource)).filter((s) => s.resource === resource)
  return runSuites(suites, await loadWorld(tx, suites.flatMap((s) => s.targets), now))
}
