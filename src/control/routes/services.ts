import * as z from 'zod'
import { MAX_TIMEOUT_SECONDS } from '../../api/service-timeout.js'
import { PosternError, notFound } from '../../core/errors.js'
import { newUid, randomToken } from '../../core/ids.js'
import { description } from '../../core/display-text.js'
import { parseWith } from '../../core/validate.js'
import { withinMask } from '../update-mask.js'
import { parseProjectId, parseServiceId, projectName, serviceName } from '../../iam/resources.js'
import type { Router } from '../../http/router.js'
import type { ServiceRecord } from '../../store/records.js'
import { allowRead, mutate, ok, type AlsoNeeded, type Handler, type RequestContext } from '../handler.js'
import { serviceView } from '../service-view.js'
import { assertProjectExists } from './projects.js'
import { parseUpstream } from '../upstream-url.js'

const LABEL_KEY = /^[a-z][a-z0-9_-]{0,62}$/

const Fields = {
  upstream: z.string().max(2048),
  description: description(512),
  invokerIamDisabled: z.boolean(),
  customAudiences: z.array(z.string().min(1).max(512)).max(20),
  strictAudience: z.boolean(),
  browserAccess: z.boolean(),
  useHttp2: z.boolean(),
  timeoutSeconds: z.number().int().min(1).max(MAX_TIMEOUT_SECONDS),
  labels: z.record(z.string().regex(LABEL_KEY, 'label keys: lowercase letters, digits, - and _'), z.string().max(63)),
}
const CreateService = z.strictObject({ ...Fields, description: Fields.description.optional(), invokerIamDisabled: Fields.invokerIamDisabled.optional(),
  customAudiences: Fields.customAudiences.optional(), strictAudience: Fields.strictAudience.optional(), browserAccess: Fields.browserAccess.optional(),
  useHttp2: Fields.useHttp2.optional(),
  timeoutSeconds: Fields.timeoutSeconds.optional(),
  labels: Fields.labels.optional() })
const UpdateService = z.strictObject({ ...Fields, etag: z.string().max(100) }).partial()

/** Fields the API returns that a client may send back unchanged (PATCH with the whole resource). */
const OUTPUT_ONLY = ['name', 'uid', 'uri', 'allUsersMayInvoke', 'createTime', 'updateTime', 'creator', 'lastModifier']

/** What a service's answer is shown with: the gateway URL, and the policies as they stand now. */
const viewedAt = (c: RequestContext) => ({ gatewayUrl: c.deps.settings.gatewayUrl, directory: c.deps.directory, now: c.deps.clock() })

/** Whether `fields` would change `current`: values compared as JSON, labels whatever their order. */
function changesAnything(current: ServiceRecord, fields: Partial<ServiceRecord>): boolean {
  const canonical = (value: unknown) => JSON.stringify(value !== null && typeof value === 'object' && !Array.isArray(value) ? Object.entries(value).sort(([a], [b]) => a.localeCompare(b)) : value)
  return (Object.keys(fields) as (keyof ServiceRecord)[]).some((k) => canonical(fields[k]) !== canonical(current[k]))
}

function stripOutputOnly(body: Record<string, unknown>): Record<string, unknown> {
  const copy = { ...body }
  for (const k of OUTPUT_ONLY) delete copy[k]
  return copy
}

/**
 * Turning the invoker check off makes a service public, which is a policy change: like Cloud
 * Run, it needs run.services.setIamPolicy (on the project for a new service), the permission an
 * allUsers binding needs, and not only create or update.
 */
const turnsInvokerCheckOff = (where: string): AlsoNeeded => ({
  permission: 'run.services.setIamPolicy',
  because: `turning the invoker IAM check off (invokerIamDisabled: true) makes ${where} public, which needs run.services.setIamPolicy as an allUsers binding does (roles/run.admin or roles/owner).`,
})

function ids(c: RequestContext) {
  return { projectId: parseProjectId(c.params.project), serviceId: parseServiceId(c.params.service) }
}

export function serviceRoutes(r: Router<Handler>): void {
  r.add('GET', '/v2/projects/{project}/services', async (c) => {
    const projectId = parseProjectId(c.params.project)
    allowRead(c, 'run.services.list', projectName(projectId))
    await assertProjectExists(c.deps.store, projectId)
    const services = await c.deps.store.listServices(projectId)
    const at = viewedAt(c)
    return ok({ services: services.map((s) => serviceView(s, at)) })
  })

  r.add('POST', '/v2/projects/{project}/services', async (c) => {
    const projectId = parseProjectId(c.params.project)
    const serviceId = parseServiceId(c.query.get('serviceId') ?? undefined)
    const body = parseWith(CreateService, stripOutputOnly(await c.json()))
    const now = c.deps.clock()
    const caller = c.caller()
    const record: ServiceRecord = {
      projectId,
      serviceId,
      uid: newUid(),
      upstream: parseUpstream(body.upstream),
      description: body.description ?? '',
      invokerIamDisabled: body.invokerIamDisabled ?? false,
      customAudiences: [...new Set(body.customAudiences ?? [])],
      strictAudience: body.strictAudience ?? false,
      browserAccess: body.browserAccess ?? true,
      useHttp2: body.useHttp2 ?? false,
      timeoutSeconds: body.timeoutSeconds ?? 300,
      labels: body.labels ?? {},
      createTime: now,
      updateTime: now,
      creator: caller.member,
      lastModifier: caller.member,
      etag: randomToken(9),
    }
    const name = serviceName(projectId, serviceId)
    const also = record.invokerIamDisabled ? turnsInvokerCheckOff('the new service') : undefined
    await mutate(c, { method: 'services.create', resource: name, permission: 'run.services.create', checkOn: projectName(projectId), also }, async (tx) => {
      if (!(await tx.getProject(projectId))) throw notFound(`Project '${projectId}' not found.`)
      if (!(await tx.insertService(record))) throw new PosternError('ALREADY_EXISTS', `Service '${serviceId}' already exists in project '${projectId}'.`)
      // A policy left by an earlier service of this name must not grant access to the new one.
      await tx.deletePolicy(name)
      await tx.recordChange('service', `${projectId}/${serviceId}`)
      await tx.recordChange('policy', name)
    })
    return ok(serviceView(record, viewedAt(c)))
  })

  r.add('GET', '/v2/projects/{project}/services/{service}', async (c) => {
    const { projectId, serviceId } = ids(c)
    allowRead(c, 'run.services.get', serviceName(projectId, serviceId))
    const s = await c.deps.store.getService(projectId, serviceId)
    if (!s) throw notFound(`Service '${serviceId}' not found in project '${projectId}'.`)
    return ok(serviceView(s, viewedAt(c)))
  })

  r.add('PATCH', '/v2/projects/{project}/services/{service}', async (c) => {
    const { projectId, serviceId } = ids(c)
    const patch = withinMask(parseWith(UpdateService, stripOutputOnly(await c.json())), c.query.get('updateMask'), Object.keys(Fields), ['etag'])
    const name = serviceName(projectId, serviceId)
    // Only turning the check off needs more: sending back a public service unchanged does not.
    const before = patch.invokerIamDisabled === true ? await c.deps.store.getService(projectId, serviceId) : undefined
    const turningOff = before ? !before.invokerIamDisabled : false
    const also = turningOff ? turnsInvokerCheckOff('the service') : undefined
    const updated = await mutate(c, { method: 'services.update', resource: name, permission: 'run.services.update', also, details: { fields: Object.keys(patch) } }, async (tx) => {
      const current = await tx.getService(projectId, serviceId)
      if (!current) throw notFound(`Service '${serviceId}' not found in project '${projectId}'.`)
      if (patch.invokerIamDisabled === true && !current.invokerIamDisabled && !turningOff) {
        throw new PosternError('ABORTED', 'The service was changed concurrently (its invoker check was turned on). Read it again and retry.')
      }
      if (patch.etag !== undefined && patch.etag !== current.etag) {
        throw new PosternError('ABORTED', 'The service was changed concurrently (etag mismatch). Read it again and retry.')
      }
      const fields: Partial<ServiceRecord> = {
        ...(patch.upstream !== undefined && { upstream: parseUpstream(patch.upstream) }),
        ...(patch.description !== undefined && { description: patch.description }),
        ...(patch.invokerIamDisabled !== undefined && { invokerIamDisabled: patch.invokerIamDisabled }),
        ...(patch.customAudiences !== undefined && { customAudiences: [...new Set(patch.customAudiences)] }),
        ...(patch.strictAudience !== undefined && { strictAudience: patch.strictAudience }),
        ...(patch.browserAccess !== undefined && { browserAccess: patch.browserAccess }),
        ...(patch.useHttp2 !== undefined && { useHttp2: patch.useHttp2 }),
        ...(patch.timeoutSeconds !== undefined && { timeoutSeconds: patch.timeoutSeconds }),
        ...(patch.labels !== undefined && { labels: patch.labels }),
      }
      // An update that changes nothing writes nothing: the etag and update time stay, and nginx
      // is not reloaded (an empty PATCH, or a client sending the resource back as it read it).
      if (!changesAnything(current, fields)) return current
      const next: ServiceRecord = {
        ...current,
        ...fields,
        updateTime: c.deps.clock(),
        lastModifier: c.caller().member,
        etag: randomToken(9),
      }
      if (!(await tx.updateService(next, current.etag))) throw new PosternError('ABORTED', 'The service was changed concurrently. Retry.')
      await tx.recordChange('service', `${projectId}/${serviceId}`)
      return next
    })
    return ok(serviceView(updated, viewedAt(c)))
  })

  r.add('DELETE', '/v2/projects/{project}/services/{service}', async (c) => {
    const { projectId, serviceId } = ids(c)
    const name = serviceName(projectId, serviceId)
    await mutate(c, { method: 'services.delete', resource: name, permission: 'run.services.delete' }, async (tx) => {
      if (!(await tx.deleteService(projectId, serviceId))) throw notFound(`Service '${serviceId}' not found in project '${projectId}'.`)
      await tx.deletePolicy(name)
      await tx.recordChange('service', `${projectId}/${serviceId}`)
      await tx.recordChange('policy', name)
    })
    return ok({})
  })
}
