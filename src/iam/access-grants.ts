import { addMember } from '../api/binding-edits.js'
import { MIN_REQUEST_SECONDS } from '../api/access-request-limits.js'
import { invalid } from '../core/errors.js'
import { formatDuration } from '../core/format-duration.js'
import type { Condition } from './conditions.js'
import { printable, type Member } from './members.js'
import { canonical, type PolicyBody } from './policy.js'
import type { Role } from './roles.js'

/**
 * What an approved access request does to a policy, pure: a binding of the requested role to the
 * requester whose condition ends it (`request.time < timestamp(…)`), titled with the request id
 * so that Postern — and a person reading the policy — can tell which request it came from.
 */

/**
 * The limit a service has until an admin sets one: a working day. Long enough for an on-call
 * shift or a debugging session, short enough that nothing granted today is still open tomorrow
 * morning; it is also the default maximum activation of Azure AD's Privileged Identity
 * Management, which many teams already know.
 */
export const DEFAULT_MAX_REQUEST_SECONDS = 8 * 3600
// The bounds live in src/api: the CLI checks them too, before it changes anything.
export { MAX_LIMIT_SECONDS, MIN_REQUEST_SECONDS } from '../api/access-request-limits.js'

const TITLE_PREFIX = 'Access request '

export function grantTitle(requestId: string): string {
  return TITLE_PREFIX + requestId
}

/** The condition an approval writes; the reason goes into the description (the field is at most 256 characters). */
export function grantCondition(requestId: string, expireTime: number, approver: string, reason: string): Condition {
  const description = `Approved by ${approver}: ${reason.replace(/\s+/g, ' ')}`
  return {
    title: grantTitle(requestId),
    description: description.length > 256 ? description.slice(0, 255) + '…' : description,
    expression: `request.time < timestamp('${new Date(expireTime).toISOString()}')`,
  }
}

export function withGrant(policy: PolicyBody, member: Member, role: Role, condition: Condition): PolicyBody {
  return canonical(addMember(policy, member, role, condition).bindings)
}

/** Removes every binding an access request wrote (its title names the request); what else the policy holds stays. */
export function withoutGrant(policy: PolicyBody, requestId: string): PolicyBody {
  const title = grantTitle(requestId)
  return canonical(policy.bindings.filter((b) => b.condition?.title !== title))
}

/** Checks a request's duration against the service's limit; the refusal names the limit and how it is changed. */
export function checkDuration(seconds: number, maxSeconds: number, resource: string, what = 'The requested duration'): void {
  if (seconds < MIN_REQUEST_SECONDS) throw invalid(`${what} (${formatDuration(seconds)}) is shorter than the minimum of ${formatDuration(MIN_REQUEST_SECONDS)}.`)
  if (seconds > maxSeconds) {
    const [, projectId, , serviceId] = resource.split('/')
    throw invalid(
      `${what} (${formatDuration(seconds)}) exceeds the maximum of ${formatDuration(maxSeconds)} for ${resource}; ask for at most ${formatDuration(maxSeconds)}, or an admin can raise the limit with: postern services update ${serviceId} --project=${projectId} --max-access-request-duration=DURATION`,
    )
  }
}

/** A Google Duration on the wire: "7200s". */
export function parseWireDuration(raw: unknown, field: string): number {
  if (typeof raw !== 'string' || !/^\d{1,9}s$/.test(raw)) {
    throw invalid(`${field}: expected a duration in seconds such as '7200s', got '${printable(String(raw))}'.`)
  }
  return Number(raw.slice(0, -1))
}
