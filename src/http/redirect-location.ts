/**
 * An upstream's redirect to its own address, pointed at the public URL it is served under, as
 * nginx's `proxy_redirect default` and Apache's ProxyPassReverse point it. An app builds absolute
 * redirects from the Host it was sent, which is its own (`127.0.0.1:14002`), and a `Location`
 * naming that would send the caller to an address it cannot reach, and tell it where the app
 * lives. A `Location` or `Refresh` URL that begins with the upstream's URL (scheme, host, port,
 * and its base path when it has one) gets that beginning replaced by the public URL; a relative
 * one, another host's, or one already public is left as it is.
 *
 * The nginx data plane applies the same rule in Lua (gateway/nginx/nginx-lua-redirects.ts): a
 * change here is a change there.
 */
export interface RedirectRewrite {
  /**
   * The URL redirects are rewritten from: its scheme (lower case), its host as URL.host writes it
   * (lower case, a port only when not the scheme's default, an IPv6 address in brackets), and its
   * base path ('' or '/base', no trailing slash).
   */
  readonly from: { readonly scheme: string; readonly host: string; readonly basePath: string }
  /** What takes its place: a scheme and a host (with its port when it has one). */
  readonly to: { readonly scheme: string; readonly host: string }
}

/** The rewrite from an upstream URL (`http://127.0.0.1:14002/base`) to a public scheme and host. */
export function redirectRewrite(upstream: URL, to: { scheme: string; host: string }): RedirectRewrite {
  const basePath = upstream.pathname === '/' ? '' : upstream.pathname.replace(/\/$/, '')
  return { from: { scheme: upstream.protocol.slice(0, -1), host: upstream.host, basePath }, to }
}

const DEFAULT_PORT: Readonly<Record<string, string>> = { http: '80', https: '443' }
const SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i
/** `host:port`, the port's digits last; an IPv6 literal's colons sit inside brackets, before them. */
const WITH_PORT = /^(.*):(\d*)$/

/** An authority as URL.host would write it for `scheme`: lower case, no default (or empty) port, no leading zeros. */
function normalisedHost(authority: string, scheme: string): string {
  const lower = authority.toLowerCase()
  const m = WITH_PORT.exec(lower)
  if (!m) return lower
  // (Digits, not a number: the Lua compares them so too, and a port past 65535 then matches nothing.)
  const port = m[2]!.replace(/^0+(?=\d)/, '')
  return port === '' || port === DEFAULT_PORT[scheme] ? m[1]! : `${m[1]!}:${port}`
}

/**
 * `value` (a Location) with the upstream's URL at its start replaced by the public one; undefined
 * when it does not start with it. Scheme and host compare without regard to case, a port equal to
 * the scheme's default as no port; the base path compares exactly, and must end where a path
 * segment does (`/base` is not the start of `/basement`). A scheme-relative URL (`//host/…`)
 * naming the upstream's host becomes one naming the public host.
 */
export function rewrittenLocation(value: string, r: RedirectRewrite): string | undefined {
  let rest: string
  let relative = false
  if (value.startsWith('//')) {
    rest = value.slice(2)
    relative = true
  } else {
    const m = SCHEME.exec(value)
    if (!m || m[1]!.toLowerCase() !== r.from.scheme) return undefined
    rest = value.slice(m[0].length)
  }
  // The authority ends where the path, the query or the fragment begins.
  const end = rest.search(/[/?#]/)
  const authority = end < 0 ? rest : rest.slice(0, end)
  if (normalisedHost(authority, r.from.scheme) !== r.from.host) return undefined
  let tail = end < 0 ? '' : rest.slice(end)
  const base = r.from.basePath
  if (base !== '') {
    if (!tail.startsWith(base)) return undefined
    const after = tail.charAt(base.length)
    if (after !== '' && after !== '/' && after !== '?' && after !== '#') return undefined
    tail = tail.slice(base.length)
  }
  return `${relative ? '//' : `${r.to.scheme}://`}${r.to.host}${tail}`
}

/**
 * What comes before the URL in a Refresh value (`5; url=…`, `0;URL='…'`, `3, …`: HTML's
 * "shared declarative refresh steps"): the delay, `;` or `,`, and an optional `url=` and quote.
 */
const REFRESH_URL_AT = /^[ \t]*[0-9.]*[ \t]*[;,][ \t]*(?:url[ \t]*=[ \t]*)?['"]?/i

/** `value` (a Refresh) with its URL rewritten as rewrittenLocation does; undefined when it is not. */
export function rewrittenRefresh(value: string, r: RedirectRewrite): string | undefined {
  const m = REFRESH_URL_AT.exec(value)
  if (!m) return undefined
  const url = rewrittenLocation(value.slice(m[0].length), r)
  return url === undefined ? undefined : m[0] + url
}
