import * as z from 'zod'
import { invalid, notFound } from '../../core/errors.js'
import { parseWith } from '../../core/validate.js'
import { formatDuration } from '../../core/format-duration.js'
import { MAX_LIMIT_SECONDS, MIN_REQUEST_SECONDS, parseWireDuration } from '../../iam/access-grants.js'
import { parseProjectId, parseServiceId, serviceName } from '../../iam/resources.js'
import type { Router } from '../../http/router.js'
import { maxRequestSeconds } from '../access-request-view.js'
import { mutate, ok, type Handler, type RequestContext } from '../handler.js'

const Patch = z.strictObject({ maxRequestDuration: z.string().max(20) })

const view = (resource: string, seconds: number) => ({ name: `${resource}/accessRequestSettings`, maxRequestDuration: `${seconds}s` })

/**
 * A service's limit on how long an access request may last (`services update
 * --max-access-request-duration`). Anyone signed in may read it — requesters need to know it;
 * changing it takes run.services.setIamPolicy, as it bounds what approvers may grant.
 */
export function accessRequestSettingsRoutes(r: Router<Handler>): void {
  const path = '/v2/projects/{project}/services/{service}/accessRequestSettings'
  const target = (c: RequestContext) => {
    const projectId = parseProjectId(c.params.project)
    const serviceId = parseServiceId(c.params.service)
    return { projectId, serviceId, resource: serviceName(projectId, serviceId) }
  }

  r.add('GET', path, async (c) => {
    c.caller()
    const t = target(c)
    const service = await c.deps.store.getService(t.projectId, t.serviceId)
    if (!service) throw notFound(`Service '${t.serviceId}' not found in project '${t.projectId}'.`)
    return ok(view(t.resource, await maxRequestSeconds(c.deps.store, t.resource, service.uid)))
  })

  r.add('PATCH', path, async (c) => {
    const caller = c.caller()
    const t = target(c)
    const seconds = parseWireDuration(parseWith(Patch, await c.json()).maxRequestDuration, 'maxRequestDuration')
    if (seconds < MIN_REQUEST_SECONDS || seconds > MAX_LIMIT_SECONDS) {
      throw invalid(`maxRequestDuration: between ${formatDuration(MIN_REQUEST_SECONDS)} and ${formatDuration(MAX_LIMIT_SECONDS)}, not ${formatDuration(seconds)}.`)
    }
    const op = { method: 'accessRequestSettings.update', resource: t.resource, permission: 'run.services.setIamPolicy', details: { maxRequestDuration: `${seconds}s` } }
    await mutate(c, op, async (tx) => {
      const service = await tx.getService(t.projectId, t.serviceId)
      if (!service) throw notFound(`Service '${t.serviceId}' not found in project '${t.projectId}'.`)
      await tx.putAccessRequestSettings({ resource: t.resource, resourceUid: service.uid, maxDurationSeconds: seconds, updateTime: c.deps.clock(), updater: caller.member })
    })
    return ok(view(t.resource, seconds))
  })
}
