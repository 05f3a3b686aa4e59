import { MAX_LIMIT_SECONDS, MIN_REQUEST_SECONDS } from '../api/access-request-limits.js'
import { formatDuration } from '../core/format-duration.js'
import type { Api } from './api.js'
import { CliError, usageError } from './errors.js'
import { wireDuration } from './durations.js'

const FLAG = '--max-access-request-duration'
const NEEDED = 'run.services.setIamPolicy'

/**
 * `services update --max-access-request-duration`: a second call, after the service's own PATCH,
 * which needs another permission than the PATCH and bounds the server enforces. Both are checked
 * here before either call is made, so a limit that would be refused leaves the service unchanged
 * rather than half-updated.
 */
export function accessRequestLimit(text: string): string {
  const wire = wireDuration(text, FLAG)
  const seconds = Number(wire.slice(0, -1))
  if (seconds < MIN_REQUEST_SECONDS || seconds > MAX_LIMIT_SECONDS) {
    throw usageError(`${FLAG} must be between ${formatDuration(MIN_REQUEST_SECONDS)} and ${formatDuration(MAX_LIMIT_SECONDS)}, not '${text}'.`)
  }
  return wire
}

/** Refuses before anything is changed when the caller may not set the limit (the server would, after the PATCH). */
export async function checkMaySetAccessRequestLimit(api: Api, path: string, service: string): Promise<void> {
  const { permissions = [] } = await api.call<{ permissions?: string[] }>('POST', `${path}:testIamPermissions`, { permissions: [NEEDED] }, { idempotent: true })
  if (permissions.includes(NEEDED)) return
  throw new CliError(`ERROR: (PERMISSION_DENIED) ${FLAG} needs '${NEEDED}' on service [${service}] (roles/run.admin has it), which you do not have there. Nothing was changed.`, 1, 'PERMISSION_DENIED')
}
