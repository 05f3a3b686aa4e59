/**
 * Which requests `postern services proxy` answers. It acts with the developer's identity, so a
 * web page must not be able to use it: not by rebinding its own DNS name to 127.0.0.1 (the Host
 * then names the page's site, not the proxy) and not by a cross-site request from the browser
 * (Origin names another site, or Sec-Fetch-Site says cross-site). As `kubectl proxy`: loopback
 * names by default, more with `--accept-hosts`.
 */
export interface LocalOriginPolicy {
  /** The port the proxy listens on. */
  port: number
  /** Host names (without port) accepted beside the loopback ones, as `kubectl proxy --accept-hosts`. */
  acceptHosts?: RegExp
}

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]'])

/** `name:port` → [name, port]; an IPv6 literal keeps its brackets. Undefined when malformed. */
function splitHost(value: string): [string, number | undefined] | undefined {
  const m = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::(\d{1,5}))?$/i.exec(value.trim())
  if (!m) return undefined
  return [m[1]!.toLowerCase(), m[2] === undefined ? undefined : Number(m[2])]
}

/** Whether `authority` (a Host header or an origin's host part) names this proxy. */
function namesProxy(authority: string, policy: LocalOriginPolicy, defaultPort: number): boolean {
  const parsed = splitHost(authority)
  if (!parsed) return false
  const [name, port = defaultPort] = parsed
  if (LOOPBACK_NAMES.has(name)) return port === policy.port
  return policy.acceptHosts?.test(name) ?? false
}

/** Why the proxy refuses a request, or undefined when it serves it. */
export function localOriginRefusal(headers: { host?: string; origin?: string | string[]; 'sec-fetch-site'?: string | string[] }, policy: LocalOriginPolicy): string | undefined {
  const host = headers.host ?? ''
  if (!namesProxy(host, policy, 80)) {
    return `postern services proxy answers only for localhost, 127.0.0.1 and [::1] on port ${policy.port}${policy.acceptHosts ? ` and hosts matching ${policy.acceptHosts.source}` : ''}, not Host '${host.slice(0, 100)}'; add names with --accept-hosts.`
  }
  if (headers['sec-fetch-site'] === 'cross-site') return 'postern services proxy refuses requests another site makes from a browser (Sec-Fetch-Site: cross-site).'
  const origin = headers.origin
  if (origin !== undefined) {
    const m = typeof origin === 'string' ? /^http:\/\/([^/]+)$/i.exec(origin) : null
    if (!m || !namesProxy(m[1]!, policy, 80)) return `postern services proxy refuses requests from another origin (Origin: ${String(origin).slice(0, 100)}).`
  }
  return undefined
}
