import { MAX_TIMEOUT_SECONDS } from '../api/service-timeout.js'
import { parseDurationSeconds } from '../core/duration.js'
import { formatDuration } from '../core/format-duration.js'
import { usageError } from './errors.js'

/** A duration flag ("2h", "90m", "3600") as the API takes it ("7200s"); what does not parse is a usage error. */
export function wireDuration(text: string, flag: string): string {
  try {
    return `${parseDurationSeconds(text, flag)}s`
  } catch (err) {
    throw usageError((err as Error).message)
  }
}

/** "7200s" → "2h" for people. */
export function readableDuration(wire: string | undefined): string {
  return wire ? formatDuration(Number(wire.replace(/s$/, ''))) : ''
}

const UNIT_SECONDS: Record<string, number> = { h: 3600, m: 60, s: 1 }
/** Hours, minutes and seconds, in that order, each at most once, at least one of them. */
const DURATION = /^(?=\d)(?:\d+h)?(?:\d+m)?(?:\d+s)?$/

/**
 * gcloud run's --timeout: seconds ("300"), or a duration of hours, minutes and seconds ("5m",
 * "10m5s", "1h"), between 1 second and 1 hour; anything else is a usage error saying so.
 */
export function timeoutSeconds(text: string): number {
  const t = text.trim()
  const parts = /^\d+$/.test(t) ? [[t, 's']] : DURATION.test(t) ? [...t.matchAll(/(\d+)([hms])/g)].map((m) => [m[1]!, m[2]!]) : undefined
  if (!parts) throw usageError(`--timeout: expected seconds or a duration such as 300, 5m or 10m5s, got '${text}'.`)
  const seconds = parts.reduce((sum, [n, unit]) => sum + Number(n) * UNIT_SECONDS[unit!]!, 0)
  if (seconds < 1 || seconds > MAX_TIMEOUT_SECONDS) throw usageError(`--timeout must be between 1s and 1h (${MAX_TIMEOUT_SECONDS} seconds), not '${text}'.`)
  return seconds
}
