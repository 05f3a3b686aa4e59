import { invalid } from './errors.js'

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 }

/** "3600", "3600s", "90m", "12h", "30d" → seconds. */
export function parseDurationSeconds(text: string, what: string): number {
  const m = /^(\d{1,9})([smhd]?)$/.exec(text.trim())
  if (!m) throw invalid(`${what}: '${text}' is not a duration (e.g. 3600, 90s, 15m, 12h, 30d).`)
  const seconds = Number(m[1]) * (UNIT_SECONDS[m[2] || 's'] ?? 1)
  if (seconds <= 0) throw invalid(`${what} must be positive.`)
  return seconds
}
