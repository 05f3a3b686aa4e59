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
