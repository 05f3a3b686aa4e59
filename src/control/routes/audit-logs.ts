import { invalid } from '../../core/errors.js'
import { ORGANIZATION } from '../../iam/resources.js'
import type { Router } from '../../http/router.js'
import { allowRead, ok, pageSize, rfc3339, type Handler } from '../handler.js'

/**
 * GET /v1/auditLogs: newest first; one entry per mutation, and one per principal, resource and
 * minute of refusals (denied invocations, API calls refused with PERMISSION_DENIED, failed
 * sign-ins), with their count; `outcome=` keeps one kind.
 */
export function auditLogRoutes(r: Router<Handler>): void {
  r.add('GET', '/v1/auditLogs', async (c) => {
    allowRead(c, 'logging.logEntries.list', ORGANIZATION)
    const limit = pageSize(c.query, 50, 1000)
    const token = c.query.get('pageToken')
    if (token !== null && !/^\d{1,15}$/.test(token)) throw invalid('pageToken is not one this API returned.')
    const outcome = c.query.get('outcome') || undefined
    if (outcome !== undefined && !/^[A-Z_]{2,40}$/.test(outcome)) throw invalid("outcome is 'OK' or a status such as PERMISSION_DENIED, UNAUTHENTICATED or RESOURCE_EXHAUSTED.")
    const entries = await c.deps.store.listAudit({
      resource: c.query.get('resource') || undefined,
      principal: c.query.get('principal') || undefined,
      outcome,
      beforeId: token === null ? undefined : Number(token),
      // One more than the page, to know whether more remain: a full last page has no token.
      limit: limit + 1,
    })
    const page = entries.slice(0, limit)
    return ok({
      entries: page.map((e) => ({ id: String(e.id), time: rfc3339(e.time), principal: e.principal, method: e.method, resource: e.resource, outcome: e.outcome, details: e.details, count: e.count })),
      ...(entries.length > limit && { nextPageToken: String(page.at(-1)!.id) }),
    })
  })
}
