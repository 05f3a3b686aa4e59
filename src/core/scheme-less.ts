/**
 * The http URL an address typed without a scheme stands for — `localhost:3000`, `10.0.0.5:8080/app`,
 * `:3000`, `3000` (a port alone is this machine's) — or undefined when it is no such address, or
 * already names a scheme. For messages that say what to type; nothing is taken on the user's behalf.
 */
export function urlMeantBy(raw: string): string | undefined {
  if (raw.includes('://')) return undefined
  if (/^:?\d{1,5}$/.test(raw)) return `http://127.0.0.1:${raw.replace(/^:/, '')}`
  try {
    const url = new URL(`http://${raw}`)
    return url.hostname && !url.username && !url.password ? url.href.replace(/\/$/, '') : undefined
  } catch {
    return undefined
  }
}
