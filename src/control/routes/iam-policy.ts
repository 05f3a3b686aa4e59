import * as z from 'zod'
import { PosternError } from '../../core/errors.js'
import { parseWith } from '../../core/validate.js'
import { parseEmail } from '../../iam/members.js'
import { checkRolesGrantable, emptyPolicy, newEtag, normalizePolicy, type Policy } from '../../iam/policy.js'
import { CONCURRENT_CHANGE } from '../../iam/policy-write.js'
import type { ResourceType } from '../../iam/conditions.js'
import { lineage, ORGANIZATION, parseProjectId, parseServiceId, projectName, resourceType, serviceAccountName, serviceName } from '../../iam/resources.js'
import { appliesTo, checkedOn, isPermission, type Permission } from '../../iam/roles.js'
import type { Router } from '../../http/router.js'
import type { StoreTx } from '../../store/store.js'
import { check } from '../access.js'
import { missingResource } from '../missing-resource.js'
import { checkPolicyWrite } from '../policy-write-check.js'
import { allowRead, mutate, ok, type Handler, type RequestContext } from '../handler.js'

/** A resource that carries an IAM policy: its name, permission prefix and how to tell it exists. */
export interface Target {
  resource: string
  prefix: 'resourcemanager.organizations' | 'resourcemanager.projects' | 'run.services' | 'iam.serviceAccounts'
  exists: (tx: StoreTx) => Promise<boolean>
}

export const policyTargets: Record<string, (c: RequestContext) => Target> = {
  '/v1/organizations/local': () => ({ resource: ORGANIZATION, prefix: 'resourcemanager.organizations', exists: async () => true }),
  '/v1/projects/{project}': (c) => {
    const p = parseProjectId(c.params.project)
    return { resource: projectName(p), prefix: 'resourcemanager.projects', exists: async (tx) => Boolean(await tx.getProject(p)) }
  },
  '/v2/projects/{project}/services/{service}': (c) => {
    const p = parseProjectId(c.params.project)
    const s = parseServiceId(c.params.service)
    return { resource: serviceName(p, s), prefix: 'run.services', exists: async (tx) => Boolean(await tx.getService(p, s)) }
  },
  '/v1/projects/{project}/serviceAccounts/{email}': (c) => {
    const p = parseProjectId(c.params.project)
    const email = parseEmail(c.params.email!, 'service account email')
    return {
      resource: serviceAccountName(p, email),
      prefix: 'iam.serviceAccounts',
      exists: async (tx) => (await tx.getServiceAccount(email))?.projectId === p,
    }
  },
}

const SetBody = z.strictObject({ policy: z.record(z.string(), z.unknown()), updateMask: z.string().optional() })
const TestBody = z.strictObject({ permissions: z.array(z.string().max(200)).max(100) })

export async function readPolicy(tx: StoreTx, resource: string): Promise<Policy> {
  const record = await tx.getPolicy(resource)
  return record ? { ...record.policy, etag: record.etag } : emptyPolicy()
}

const missing = (t: Target) => missingResource(t.resource)

const A: Record<ResourceType, string> = {
  'postern.organization/Organization': 'the organization',
  'postern.project/Project': 'a project',
  'run.postern/Service': 'a service',
  'iam.postern/ServiceAccount': 'a service account',
}

/**
 * A permission never checked on this resource nor below it: holding it here would say nothing
 * about any call (it was answered as held, and the call it stands for was refused). Google
 * answers the same 400; this one also says where to ask: the ancestor it is checked on, if any.
 */
function notValidHere(permission: Permission, resource: string): PosternError {
  const type = checkedOn(permission)
  const where = lineage(resource).find((r) => resourceType(r) === type)
  return new PosternError(
    'INVALID_ARGUMENT',
    `Permission '${permission}' is not valid for this resource (${resource}): it is checked on ${where ?? A[type]}; test it there.`,
  )
}

export function iamPolicyRoutes(r: Router<Handler>): void {
  for (const [base, target] of Object.entries(policyTargets)) {
    const get: Handler = async (c) => {
      const t = target(c)
      allowRead(c, `${t.prefix}.getIamPolicy`, t.resource)
      if (!(await t.exists(c.deps.store))) throw missing(t)
      return ok(await readPolicy(c.deps.store, t.resource))
    }
    r.add('POST', `${base}:getIamPolicy`, get)
    r.add('GET', `${base}:getIamPolicy`, get)

    r.add('POST', `${base}:setIamPolicy`, async (c) => {
      const t = target(c)
      const { policy: raw } = parseWith(SetBody, await c.json())
      const incoming = normalizePolicy(raw)
      checkRolesGrantable(incoming, resourceType(t.resource))
      const etag = raw.etag === undefined || raw.etag === '' ? undefined : String(raw.etag)
      const result = await mutate(c, { method: 'setIamPolicy', resource: t.resource, permission: `${t.prefix}.setIamPolicy`, details: { policy: incoming } }, async (tx) => {
        if (!(await t.exists(tx))) throw missing(t)
        const current = await readPolicy(tx, t.resource)
        if ((await checkPolicyWrite(tx, t.resource, current, incoming, etag, c.deps.clock())) === 'unchanged') return current
        const written = await tx.putPolicy(t.resource, incoming, newEtag(), current.etag)
        if (!written) throw new PosternError('ABORTED', CONCURRENT_CHANGE)
        await tx.recordChange('policy', t.resource)
        return { ...written.policy, etag: written.etag }
      })
      return ok(result)
    })

    r.add('POST', `${base}:testIamPermissions`, async (c) => {
      const t = target(c)
      const { permissions } = parseWith(TestBody, await c.json())
      const unknown = permissions.find((p) => !isPermission(p))
      if (unknown !== undefined) throw new PosternError('INVALID_ARGUMENT', `Permission '${unknown.slice(0, 100)}' is not known.`)
      const misplaced = permissions.find((p) => !appliesTo(p, resourceType(t.resource)))
      if (misplaced !== undefined) throw notValidHere(misplaced, t.resource)
      const caller = c.caller()
      const now = c.deps.clock()
      const granted = permissions.filter((p: Permission) => check(c.deps.directory, caller.principal, p, t.resource, now).allow)
      return ok(granted.length ? { permissions: granted } : {})
    })
  }
}

