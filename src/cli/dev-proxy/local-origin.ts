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
  /** Origins whose pages may call the proxy from a browser (`--allow-origins`): a front end's dev server, say. */
  allowOrigins?: ReadonlySet<string>
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
  const origin = headers.origin
  // A page the developer named may call the proxy, though the browser calls it another site
  // (127.0.0.1:3000 is one to localhost:8080).
  if (typeof origin === 'string' && policy.allowOrigins?.has(origin)) return undefined
  if (headers['sec-fetch-site'] === 'cross-site') return 'postern services proxy refuses requests another site makes from a browser (Sec-Fetch-Site: cross-site); a page of yours may call it once named with --allow-origins.'
  if (origin !== undefined) {
    const m = typeof origin === 'string' ? /^http:\/\/([^/]+)$/i.exec(origin) : null
    if (!m || !namesProxy(m[1]!, policy, 80)) {
      const named = typeof origin === 'string' && /^https?:\/\/[^/\s]+$/i.test(origin) ? ` --allow-origins ${origin.slice(0, 100)}` : ' --allow-origins'
      return `postern services proxy refuses requests from another origin (Origin: ${String(origin).slice(0, 100)}); to let a page of yours there call the service with your identity, start it with${named}.`
    }
  }
  return undefined
}

/**
 * `--allow-origins`: comma-separated origins (scheme, host and port, as a browser sends them in
 * Origin), each kept as the browser spells it (host in lower case, no default port). A wildcard
 * or `null` would let any page, or any sandboxed one, act with the developer's identity: refused.
 */
export function parseAllowedOrigins(value: string): Set<string> {
  const origins = new Set<string>()
  for (const item of value.split(',').map((s) => s.trim()).filter(Boolean)) {
    if (item === '*' || item.toLowerCase() === 'null') throw new Error(`'${item}' would let any web page act with your identity; name the origins of your own pages, e.g. http://localhost:3000.`)
    let url: URL | undefined
    try {
      url = new URL(item)
    } catch {
      url = undefined
    }
    const bare = url && (url.protocol === 'http:' || url.protocol === 'https:') && !url.username && !url.password && url.pathname === '/' && !url.search && !url.hash && !item.includes('#') && !/\?$/.test(item)
    if (!url || !bare) throw new Error(`'${item.slice(0, 100)}' is not an origin: scheme, host and port only, e.g. http://localhost:3000.`)
    origins.add(url.origin)
  }
  if (origins.size === 0) throw new Error('name at least one origin, e.g. http://localhost:3000.')
  return origins
}
