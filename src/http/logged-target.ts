/**
 * A request target as logs keep it: the path, and of the query only the parameter names. Query
 * values are where secrets travel in URLs (an OAuth `code`, a `state`, an `api_key` some upstream
 * takes), and the access log (and every failure's line) would otherwise keep them. Cut to 500
 * characters, as a log line should not be a way to fill a disk.
 */
export function loggedTarget(target: string): string {
  const q = target.indexOf('?')
  if (q < 0) return target.slice(0, 500)
  const names = target
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=')
      return eq < 0 ? pair : `${pair.slice(0, eq)}=…`
    })
  return `${target.slice(0, q)}?${names.join('&')}`.slice(0, 500)
}
