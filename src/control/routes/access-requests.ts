import * as z from 'zod'
import { PosternError, denied, invalid, notFound } from '../../core/errors.js'
import { parseWith } from '../../core/validate.js'
import { checkDuration, grantCondition, parseWireDuration, withGrant } from '../../iam/access-grants.js'
import type { Member } from '../../iam/members.js'
import { getRole, grantableOn, parseRole, rolesGrantableOn, type Role } from '../../iam/roles.js'
import type { Router } from '../../http/router.js'
import type { AccessRequestRecord } from '../../store/queries/access-requests.js'
import { check } from '../access.js'
import { assertPolicyKeepsTests } from '../access-test-guard.js'
import type { AccessRequestWaiters } from '../access-request-waiters.js'
import {
  accessRequestView, mayDecide, mayView, maxRequestSeconds, memberOf, newRequestId, notFoundRequest, parseReason, parseRequestId,
  parseServiceResource, parseState, REQUEST_ID,
} from '../access-request-view.js'
import type { Caller } from '../caller.js'
import { ok, pageSize, type Handler, type RequestContext } from '../handler.js'
import { decodePageToken, encodePageToken } from '../page-token.js'
import { accessRequestDecisionRoutes } from './access-request-decisions.js'
import { accessRequestSettingsRoutes } from './access-request-settings.js'
import { readPolicy } from './iam-policy.js'

const Create = z.strictObject({ resource: z.string().max(300), role: z.string().max(100).optional(), duration: z.string().max(20), reason: z.string().max(2000) })
const Wait = z.strictObject({ timeout: z.string().max(20).optional() })

/** A requester may have this many requests waiting at once; more is a flood, not a need. */
const MAX_PENDING_PER_REQUESTER = 20
const MAX_WAIT_SECONDS = 30
const SERVICE = 'run.postern/Service'

/**
 * Access requests (DESIGN §9): anyone signed in may ask for a role on a service for a while, with
 * a reason; those who may set the service's policy approve or deny; an approval writes a binding
 * that ends by itself. Every step is in the audit log.
 */
export function accessRequestRoutes(deps: { waiters: AccessRequestWaiters }) {
  return (r: Router<Handler>): void => {
    r.add('POST', '/v1/accessRequests', (c) => createRequest(c))
    r.add('GET', '/v1/accessRequests', (c) => listRequests(c))
    r.add('GET', '/v1/accessRequests/{id}', async (c) => {
      const caller = c.caller()
      const found = await visibleRequest(c, caller, parseRequestId(c.params.id))
      return ok(accessRequestView(found, mayDecide(c.deps.directory, caller, found, c.deps.clock())))
    })
    r.add('POST', '/v1/accessRequests/{id}:wait', (c) => waitForDecision(c, deps.waiters))
    accessRequestDecisionRoutes(r)
    accessRequestSettingsRoutes(r)
  }
}

async function createRequest(c: RequestContext) {
  const caller = c.caller()
  const body = parseWith(Create, await c.json())
  const { projectId, serviceId, resource } = parseServiceResource(body.resource)
  const role = parseRole(body.role ?? 'roles/run.invoker')
  const servicePermissions = getRole(role)!.includedPermissions.filter((p) => p.startsWith('run.'))
  if (servicePermissions.length === 0) throw invalid(`${role} grants nothing on a service; ask for roles/run.invoker, roles/run.developer or another run role.`)
  // What an approval may write is what setIamPolicy takes on a service: a role that applies higher
  // up (roles/owner) would otherwise land in the service's policy by approval alone.
  if (!grantableOn(role, SERVICE)) throw invalid(`${role} cannot be granted on a service; ask for one of: ${rolesGrantableOn(SERVICE).join(', ')}.`)
  const seconds = parseWireDuration(body.duration, 'duration')
  const reason = parseReason(body.reason)
  const requester = memberOf(caller)
  const { store, clock } = c.deps
  const now = clock()
  const service = await store.getService(projectId, serviceId)
  if (!service) throw notFound(`Service '${serviceId}' not found in project '${projectId}'.`)
  checkDuration(seconds, await maxRequestSeconds(store, resource, service.uid), resource)
  refuseWhenHeld(c, caller, role, servicePermissions, resource, now)

  const record: AccessRequestRecord = {
    id: newRequestId(),
    resource,
    resourceUid: service.uid,
    requester,
    requesterUid: caller.principal.kind === 'anonymous' ? '' : caller.principal.uid,
    role,
    reason,
    requestedSeconds: seconds,
    state: 'PENDING',
    createTime: now,
    decider: null,
    decideTime: null,
    decisionNote: '',
    grantedSeconds: null,
    expireTime: null,
    endTime: null,
  }
  await store.transaction(async (tx) => {
    const pending = await tx.listAccessRequests({ state: 'PENDING', requester, limit: MAX_PENDING_PER_REQUESTER + 1 })
    const same = pending.find((p) => p.resource === resource && p.role === role)
    if (same) throw new PosternError('ALREADY_EXISTS', `You already asked for ${role} on ${resource}: request ${same.id} is pending. Wait for it with: postern access-requests wait ${same.id}`)
    if (pending.length >= MAX_PENDING_PER_REQUESTER) {
      throw new PosternError('RESOURCE_EXHAUSTED', `You have ${pending.length} access requests pending; wait for some to be decided before asking for more.`)
    }
    // A request no approval could satisfy is refused now rather than left for an approver to find out.
    const granted = withGrant(await readPolicy(tx, resource), requester as Member, role, grantCondition(record.id, now + seconds * 1000, requester, reason))
    await assertPolicyKeepsTests(tx, resource, granted, now, 'Granting this request')
    if (!(await tx.insertAccessRequest(record))) throw new PosternError('ABORTED', 'Two requests drew the same id; retry.')
    await tx.recordChange('accessRequest', record.id)
    await tx.appendAudit({
      time: now,
      principal: caller.member,
      method: 'accessRequests.create',
      resource,
      outcome: 'OK',
      details: { request: record.id, member: requester, role, duration: `${seconds}s`, reason },
    })
  })
  await c.deps.sync()
  return ok(accessRequestView(record, false))
}

/** A request for what the caller already holds says so, naming the grant, rather than waiting for an approver. */
function refuseWhenHeld(c: RequestContext, caller: Caller, role: Role, permissions: readonly string[], resource: string, now: number): void {
  const decisions = permissions.map((p) => check(c.deps.directory, caller.principal, p, resource, now))
  if (!decisions.every((d) => d.allow)) return
  const grant = decisions[0]!.grantedBy
  const via = grant
    ? ` (granted by ${grant.role} on ${grant.resource} to ${grant.member}${grant.condition ? ` under the condition '${grant.condition.title}'` : ''})`
    : ''
  throw new PosternError('ALREADY_EXISTS', `You already have every permission of ${role} on ${resource}${via}; there is nothing to request.`)
}

/** GET /v1/accessRequests answers this many a page unless asked (pageSize), and never more than MAX_PAGE_SIZE. */
const DEFAULT_PAGE_SIZE = 100
const MAX_PAGE_SIZE = 500
/** Rows read from the store at a time while a page fills with requests the caller may see. */
const SCAN_BATCH = 500

/**
 * Newest first, only those the caller may see, a page at a time: `nextPageToken` (page-token.ts)
 * when more remain, so no list ends short without saying so. Visibility is decided here, not in
 * SQL, so the store is read in batches until the page (and one more, to know whether more remain)
 * is found or the table ends.
 */
async function listRequests(c: RequestContext) {
  const caller = c.caller()
  const state = parseState(c.query.get('state'))
  const limit = pageSize(c.query, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
  const token = c.query.get('pageToken')
  const start = token ? decodePageToken(token, 'accessRequests', state ?? '', REQUEST_ID) : undefined
  const now = c.deps.clock()
  // Whether the caller may set a service's policy is asked once per service.
  const decides = new Map<string, boolean>()
  const mayList = (r: AccessRequestRecord) => {
    if (memberOf(caller) === r.requester) return true
    let may = decides.get(r.resource)
    if (may === undefined) decides.set(r.resource, (may = mayView(c.deps.directory, caller, r, now)))
    return may
  }
  const visible: AccessRequestRecord[] = []
  let before = start && { createTime: start.time, id: start.id }
  for (;;) {
    const rows = await c.deps.store.listAccessRequests({ state, before, limit: SCAN_BATCH })
    visible.push(...rows.filter(mayList))
    if (visible.length > limit || rows.length < SCAN_BATCH) break
    const last = rows.at(-1)!
    before = { createTime: last.createTime, id: last.id }
  }
  const page = visible.slice(0, limit)
  const last = page.at(-1)
  return ok({
    accessRequests: page.map((r) => accessRequestView(r, r.state === 'PENDING' && mayDecide(c.deps.directory, caller, r, now))),
    ...(visible.length > limit && last && { nextPageToken: encodePageToken('accessRequests', state ?? '', { time: last.createTime, id: last.id }) }),
  })
}

export async function visibleRequest(c: RequestContext, caller: Caller, id: string): Promise<AccessRequestRecord> {
  const found = await c.deps.store.getAccessRequest(id)
  if (!found) throw notFoundRequest(id)
  if (!mayView(c.deps.directory, caller, found, c.deps.clock())) {
    throw denied(`Permission 'run.services.setIamPolicy' denied on resource '${found.resource}' for ${caller.member}: only the requester and those who may set the service's policy see access request '${id}'.`)
  }
  return found
}

/**
 * Long-poll (as Google's operations.wait): answers as soon as the request is decided, or with it
 * still pending after the timeout, and the client asks again. The waiter is registered before the
 * request is read, so a decision committed in between is not missed.
 */
async function waitForDecision(c: RequestContext, waiters: AccessRequestWaiters) {
  const caller = c.caller()
  const id = parseRequestId(c.params.id)
  const { timeout } = parseWith(Wait, await c.json())
  const seconds = timeout === undefined ? MAX_WAIT_SECONDS : parseWireDuration(timeout, 'timeout')
  if (seconds > MAX_WAIT_SECONDS) throw invalid(`timeout: at most ${MAX_WAIT_SECONDS}s.`)
  await visibleRequest(c, caller, id)
  const waiter = waiters.wait(id, seconds * 1000)
  const gone = () => waiter.cancel()
  c.res.once('close', gone)
  try {
    let current = await c.deps.store.getAccessRequest(id)
    if (current?.state === 'PENDING') {
      await waiter.done
      current = await c.deps.store.getAccessRequest(id)
    }
    if (!current) throw notFoundRequest(id)
    return ok(accessRequestView(current, current.state === 'PENDING' && mayDecide(c.deps.directory, caller, current, c.deps.clock())))
  } finally {
    waiter.cancel()
    c.res.off('close', gone)
  }
}
