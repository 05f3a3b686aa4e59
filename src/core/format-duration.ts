/** Seconds for people: 7200 → "2h", 5400 → "1h30m", 90 → "1m30s". */
export function formatDuration(seconds: number): string {
  const parts: string[] = []
  let rest = seconds
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60]] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`)
      rest %= size
    }
  }
  if (rest > 0 || parts.length === 0) parts.push(`${rest}s`)
  return parts.join('')
}
