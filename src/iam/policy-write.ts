import { PosternError } from '../core/errors.js'
import { hasConditions, samePolicy, type Policy, type PolicyBody } from './policy.js'

export const CONCURRENT_CHANGE =
  'There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff.'

/**
 * What a setIamPolicy does to the current policy (DESIGN §1): a stale etag aborts; no etag
 * overwrites, unless that would silently drop conditions; writing the same policy changes nothing
 * (and keeps the etag).
 */
export function planPolicyWrite(current: Policy, incoming: PolicyBody, incomingEtag: string | undefined): 'unchanged' | 'write' {
  if (incomingEtag !== undefined && incomingEtag !== current.etag) throw new PosternError('ABORTED', CONCURRENT_CHANGE)
  if (incomingEtag === undefined && hasConditions(current)) {
    throw new PosternError(
      'FAILED_PRECONDITION',
      'The current policy has conditional bindings, which a write without an etag would lose silently. Read the policy (getIamPolicy), change it, and send it back with its etag.',
    )
  }
  return samePolicy(current, incoming) ? 'unchanged' : 'write'
}
