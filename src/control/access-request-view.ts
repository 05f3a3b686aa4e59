import { randomBytes } from 'node:crypto'
import { PosternError, invalid } from '../core/errors.js'
import { DEFAULT_MAX_REQUEST_SECONDS } from '../iam/access-grants.js'
import { printable } from '../iam/members.js'
import { principalMember } from '../iam/principal.js'
import { parseProjectId, parseServiceId, serviceName } from '../iam/resources.js'
import type { Directory } from '../directory/directory.js'
import type { AccessRequestRecord, AccessRequestState } from '../store/queries/access-requests.js'
import type { StoreTx } from '../store/store.js'
import { check } from './access.js'
import type { Caller } from './caller.js'
import { rfc3339 } from './handler.js'

/** The pieces the access request routes share: ids, names, the limit, who may decide, the JSON view. */

/** Ten characters of RFC 4648 base32 (50 bits): short enough to type, too many to guess. */
export const REQUEST_ID = /^[a-z2-7]{10}$/

export function parseRequestId(raw: string | undefined): string {
  if (raw === undefined || !REQUEST_ID.test(raw)) {
    throw invalid(`'${printable(String(raw))}' is not an access request id (ids are 10 characters such as 'k3v7q2m4xa'; postern access-requests list shows them).`)
  }
  return raw
}

export const notFoundRequest = (id: string) => new PosternError('NOT_FOUND', `Access request '${id}' not found; postern access-requests list shows the ones you may see.`)

export const STATES: readonly AccessRequestState[] = ['PENDING', 'APPROVED', 'DENIED', 'EXPIRED']

export function parseState(raw: string | null): AccessRequestState | undefined {
  if (raw === null || raw === '') return undefined
  if (!(STATES as readonly string[]).includes(raw)) throw invalid(`state must be one of ${STATES.join(', ')}, not '${printable(raw).slice(0, 40)}'.`)
  return raw as AccessRequestState
}

/** Access requests are for services: `projects/P/services/S`. */
export function parseServiceResource(raw: string): { projectId: string; serviceId: string; resource: string } {
  const m = /^projects\/([^/]+)\/services\/([^/]+)$/.exec(raw)
  if (!m) throw invalid(`resource: expected projects/PROJECT/services/SERVICE, got '${printable(raw)}'.`)
  const projectId = parseProjectId(m[1])
  const serviceId = parseServiceId(m[2])
  return { projectId, serviceId, resource: serviceName(projectId, serviceId) }
}

/** The member an approval grants to: the caller's own member string. */
export function memberOf(caller: Caller): string {
  return principalMember(caller.principal) ?? caller.member
}

/** The service's limit on request durations: an admin's setting for this very service, else the default. */
export async function maxRequestSeconds(tx: StoreTx, resource: string, serviceUid: string): Promise<number> {
  const settings = await tx.getAccessRequestSettings(resource)
  return settings && settings.resourceUid === serviceUid ? settings.maxDurationSeconds : DEFAULT_MAX_REQUEST_SECONDS
}

/** Whoever may set the service's policy may decide its requests — except on their own. */
export function mayDecide(directory: Directory, caller: Caller, r: AccessRequestRecord, now: number): boolean {
  return memberOf(caller) !== r.requester && check(directory, caller.principal, 'run.services.setIamPolicy', r.resource, now).allow
}

/** A request is visible to its requester and to those who may set the service's policy. */
export function mayView(directory: Directory, caller: Caller, r: AccessRequestRecord, now: number): boolean {
  return memberOf(caller) === r.requester || check(directory, caller.principal, 'run.services.setIamPolicy', r.resource, now).allow
}

export function describeState(r: AccessRequestRecord): string {
  switch (r.state) {
    case 'PENDING':
      return 'is pending'
    case 'APPROVED':
      return `was already approved by ${r.decider} at ${rfc3339(r.decideTime ?? 0)}`
    case 'DENIED':
      return `was denied by ${r.decider} at ${rfc3339(r.decideTime ?? 0)}`
    case 'EXPIRED':
      return `was approved by ${r.decider} and its grant ended at ${rfc3339(r.expireTime ?? 0)}`
  }
}

export function accessRequestView(r: AccessRequestRecord, canDecide: boolean) {
  const [, projectId, , serviceId] = r.resource.split('/')
  return {
    name: `accessRequests/${r.id}`,
    id: r.id,
    resource: r.resource,
    project: projectId,
    service: serviceId,
    requester: r.requester,
    role: r.role,
    reason: r.reason,
    requestedDuration: `${r.requestedSeconds}s`,
    state: r.state,
    createTime: rfc3339(r.createTime),
    ...(r.decider !== null && { decider: r.decider }),
    ...(r.decideTime !== null && { decideTime: rfc3339(r.decideTime) }),
    ...(r.decisionNote && { denialReason: r.decisionNote }),
    ...(r.grantedSeconds !== null && { grantedDuration: `${r.grantedSeconds}s` }),
    ...(r.expireTime !== null && { expireTime: rfc3339(r.expireTime) }),
    ...(r.endTime !== null && { endTime: rfc3339(r.endTime) }),
    canDecide,
  }
}

export type AccessRequestView = ReturnType<typeof accessRequestView>

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567'

export function newRequestId(): string {
  // 256 is a multiple of 32, so every character is uniform.
  return [...randomBytes(10)].map((b) => BASE32[b & 31]).join('')
}

/** Why access is needed: required, one paragraph, shown to approvers and kept in the policy. */
export function parseReason(raw: string): string {
  const reason = raw.trim()
  if (!reason) throw invalid('reason: say why you need access (e.g. --reason "debugging incident 4711").')
  if (reason.length > 500) throw invalid('reason: at most 500 characters.')
  if (/\p{Cc}/u.test(reason.replace(/[\n\t]/g, ' '))) throw invalid('reason: control characters are not allowed.')
  return reason
}
