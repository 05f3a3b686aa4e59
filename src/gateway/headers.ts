import type { TokenHeader } from './extract-token.js'
import { forwardedChain, type TrustedProxies } from '../http/client-address.js'
import { rewrittenLocation, rewrittenRefresh, type RedirectRewrite } from '../http/redirect-location.js'

/**
 * Every rule about which headers cross the gateway, in one place and as data, so that another
 * data plane (nginx, Caddy, the forward-auth examples) can apply or generate the same rules.
 *
 * Header names are compared in their normalised form: lowercase, with `_` read as `-`. Many
 * servers fold the two together (CGI/WSGI/Rack turn both into `HTTP_X_POSTERN_…`, and join the
 * values), so a client's `X_Postern_Authenticated_Email` would otherwise reach the app as the
 * very header Postern sets.
 */
export const HEADER_RULES = {
  /** RFC 9110 §7.6.1 hop-by-hop headers, plus those only a proxy hop may use: never forwarded either way. */
  hopByHop: ['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host', 'expect', 'http2-settings'],
  /** Postern's own namespace: every client header in it is dropped; Postern sets its identity headers itself. */
  posternPrefix: 'x-postern-',
  /** Identity headers Postern sets on an allowed request (empty or absent for a public service). */
  identity: { principal: 'x-postern-authenticated-principal', email: 'x-postern-authenticated-email', assertion: 'x-postern-jwt-assertion' },
  /**
   * Claims about the client's address, scheme, host or path that only a proxy may make: dropped
   * from the client, and X-Forwarded-For/-Proto/-Host and X-Request-Id set from Postern's own view.
   * Besides the standard ones, every name that frameworks or CDNs read as the client's address
   * (Rails and many PHP apps read Client-IP before X-Forwarded-For; Cloudflare's, Fastly's,
   * Envoy's) or as the path asked for (IIS's and Symfony's X-Original-URL, X-Rewrite-URL): a
   * caller's own would be believed by an upstream behind Postern. And `Proxy`, which no client
   * needs to send: CGI and WSGI servers hand it to the app as HTTP_PROXY, which many HTTP clients
   * take for the proxy to send the app's own outgoing requests through ("httpoxy", CVE-2016-5385).
   */
  forwarding: {
    prefix: 'x-forwarded-',
    names: [
      'forwarded', 'x-forwarded', 'forwarded-for', 'x-real-ip', 'x-client-ip', 'client-ip', 'true-client-ip', 'x-cluster-client-ip',
      'x-originating-ip', 'x-original-forwarded-for', 'cf-connecting-ip', 'fastly-client-ip', 'x-proxyuser-ip', 'x-envoy-external-address',
      'x-original-url', 'x-rewrite-url', 'x-request-id', 'proxy',
    ],
  },
  /**
   * Identity headers of another identity-aware proxy (Google IAP's), which an app moved from
   * behind it may still trust: only a proxy may set them, and Postern does not.
   */
  foreignIdentity: ['x-goog-authenticated-user-email', 'x-goog-authenticated-user-id', 'x-goog-iap-jwt-assertion'],
  /**
   * Headers that may carry a bearer token. The one whose token Postern verified goes upstream
   * with its signature replaced (SIGNATURE_REMOVED), so no upstream can replay it; any other that
   * holds a compact JWS claiming this Postern as its issuer is dropped, for it would reach the app
   * looking just as verified; the app's own (Basic, another issuer's JWT) passes untouched. Only
   * by these exact names: a look-alike (`X_Serverless_Authorization`) is dropped.
   */
  tokens: ['authorization', 'x-serverless-authorization'] satisfies TokenHeader[],
  /** Headers a client may not nominate for removal with `Connection:` (they carry or guard identity). */
  protected: { names: ['authorization', 'x-serverless-authorization'], prefixes: ['x-postern-', 'x-forwarded-'] },
  /**
   * Postern's own cookies (the console session, a browser's session on a service's host, sign-in
   * state), with or without a `__Host-`/`__Secure-` prefix: an upstream may not set or clear them,
   * and never receives them — they are removed from the Cookie header it is sent.
   */
  posternCookie: /^(?:__host-|__secure-)?postern[_-]/i,
  /** The request header the Postern cookies are removed from (the rest of it is forwarded). */
  cookie: 'cookie',
  /**
   * An answer to an admitted caller is that caller's: a shared cache in front of the gateway must
   * not hand it to the next one, signed in or not. RFC 9111 §3.5 has a shared cache keep no answer
   * to a request with an Authorization header unless the answer allows it (`public`, `s-maxage`,
   * `must-revalidate`), but it cannot see a session cookie or X-Serverless-Authorization as
   * credentials, and nginx's proxy_cache does not apply the rule at all (it kept a token caller's
   * `max-age=60` page and served it to an anonymous one). So every such answer gets
   * `Cache-Control: private` (a line of its own, after the upstream's), unless its Cache-Control
   * already matches this: private, no-store, or one of the three. A regular expression in the
   * syntax both JavaScript and nginx's PCRE read, case-insensitive; `private="Set-Cookie"` names
   * fields only and does not count.
   */
  cacheDecided: '(?:^|,)[ \\t]*(?:(?:private|no-store|public|must-revalidate)[ \\t]*(?:,|$)|s-maxage[ \\t]*=)',
} as const

export const SIGNATURE_REMOVED = 'SIGNATURE_REMOVED_BY_POSTERN'

const NOT_PLAIN = /[^a-z0-9-]/
const NOT_PLAIN_ALL = /[^a-z0-9-]/g

/**
 * Lowercase, with every character but a letter, a digit or `-` read as `-`: the form in which two
 * names mean the same header to some server. CGI and WSGI servers read `_` as `-`
 * (HTTP_X_POSTERN_AUTHENTICATED_EMAIL), and PHP reads `.` as `_` too, so `X-Postern.Authenticated-Email`
 * lands in PHP's `$_SERVER` under the real one's key. (nginx drops every such name itself:
 * ignore_invalid_headers.)
 */
export function normalisedName(name: string): string {
  const lower = name.toLowerCase()
  return NOT_PLAIN.test(lower) ? lower.replace(NOT_PLAIN_ALL, '-') : lower
}

const HOP_BY_HOP: ReadonlySet<string> = new Set(HEADER_RULES.hopByHop)
const FORWARDING: ReadonlySet<string> = new Set([...HEADER_RULES.forwarding.names, ...HEADER_RULES.foreignIdentity])

/**
 * What happens to one client request header on its way upstream: a token header is named by what
 * it reads as; 'cookie' loses Postern's cookies.
 */
export type RequestHeaderAction = 'pass' | 'drop' | 'cookie' | TokenHeader

/** The rule for a client header name (any case or spelling); `nominated` are the names its Connection header listed. */
export function requestHeaderAction(name: string, nominated: ReadonlySet<string> = NOTHING): RequestHeaderAction {
  const n = normalisedName(name)
  if (HOP_BY_HOP.has(n) || nominated.has(n) || n.startsWith(HEADER_RULES.posternPrefix)) return 'drop'
  if (n.startsWith(HEADER_RULES.forwarding.prefix) || FORWARDING.has(n)) return 'drop'
  // A look-alike of a token header (X_Serverless_Authorization) would reach a CGI, WSGI or PHP app
  // as the real one, and a Postern token in it with its signature replaced, as if verified.
  if (n === 'authorization' || n === 'x-serverless-authorization') return name.toLowerCase() === n ? n : 'drop'
  if (n === HEADER_RULES.cookie) return 'cookie'
  // Content_Length beside the real Content-Length: an upstream reading `_` as `-` would find two
  // lengths (nginx drops every name with `_` or `.`).
  if (n === 'content-length' && name.toLowerCase() !== n) return 'drop'
  return 'pass'
}

const NOTHING: ReadonlySet<string> = new Set()

function isProtected(n: string): boolean {
  return (HEADER_RULES.protected.names as readonly string[]).includes(n) || HEADER_RULES.protected.prefixes.some((p) => n.startsWith(p))
}

/** The header names a `Connection` header nominates, normalised; undefined if it nominates a protected one. */
export function connectionNominated(rawHeaders: readonly string[]): Set<string> | undefined {
  const nominated = new Set<string>()
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.length !== 10 || rawHeaders[i]!.toLowerCase() !== 'connection') continue
    for (const token of rawHeaders[i + 1]!.split(',')) {
      const name = normalisedName(token.trim())
      if (!name) continue
      if (isProtected(name)) return undefined
      nominated.add(name)
    }
  }
  return nominated
}

export interface UpstreamIdentity {
  /** The header whose token was verified; absent for a browser admitted by its session cookie. */
  tokenHeader?: TokenHeader
  principal: string
  email: string
  assertion: string
}

export interface UpstreamContext {
  host: string
  /** The client address chain for X-Forwarded-For (clientAddressChain). */
  forwardedFor: string
  proto: 'http' | 'https'
  requestId: string
  /** This Postern's issuer: a header not verified that holds a token it issued is dropped (HEADER_RULES.tokens). */
  issuer: string
  identity?: UpstreamIdentity
}

/**
 * The request headers the upstream sees (DESIGN §4 step 6), as a flat [name, value, …] list so
 * repeated headers survive: hop-by-hop, nominated, X-Postern-* and forwarding headers dropped
 * (by normalised name), token headers as HEADER_RULES.tokens says, identity and X-Forwarded-*
 * added last so nothing the client sent can shadow them.
 */
export function upstreamHeaders(rawHeaders: readonly string[], nominated: ReadonlySet<string>, o: UpstreamContext): string[] {
  const out: string[] = []
  // Where the one Cookie line is: several are joined with `; ` (RFC 9113 §8.2.3, as nginx does), for
  // a WSGI or CGI server joins them with `,`, and the app would read `a=1,c=3` as the value of a.
  let cookieAt = -1
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!
    const action = requestHeaderAction(name, nominated)
    if (action === 'drop') continue
    const value = rawHeaders[i + 1]!
    if (action === 'pass') {
      out.push(name, value)
      continue
    }
    if (action === 'cookie') {
      const kept = withoutPosternCookies(value)
      if (!kept) continue
      if (cookieAt < 0) {
        cookieAt = out.length + 1
        out.push(name, kept)
      } else out[cookieAt] += `; ${kept}`
      continue
    }
    // The header whose token was verified holds exactly `Bearer <our JWS>`: no need to decode it.
    if (action === o.identity?.tokenHeader) out.push(name, withoutSignature(value))
    else if (!holdsPosternToken(value, o.issuer)) out.push(name, value)
  }
  out.push('x-forwarded-for', o.forwardedFor, 'x-forwarded-proto', o.proto, 'x-forwarded-host', o.host, 'x-request-id', o.requestId)
  if (o.identity) {
    out.push(HEADER_RULES.identity.principal, o.identity.principal)
    out.push(HEADER_RULES.identity.email, o.identity.email)
    out.push(HEADER_RULES.identity.assertion, o.identity.assertion)
  }
  return out
}

/**
 * The address chain the upstream learns in X-Forwarded-For: the peer alone, unless the peer is a
 * proxy named in `--trusted-proxies`; then the chain it vouches for, client first. Whatever else
 * a client wrote in X-Forwarded-For or Forwarded is its own claim and is dropped.
 */
export function clientAddressChain(peer: string | undefined, rawHeaders: readonly string[], trusted: TrustedProxies): string {
  if (!peer) return ''
  let forwardedFor: string[] | undefined
  if (trusted.cidrs.length > 0) {
    for (let i = 0; i < rawHeaders.length; i += 2) {
      if (rawHeaders[i]!.length === 15 && rawHeaders[i]!.toLowerCase() === 'x-forwarded-for') (forwardedFor ??= []).push(rawHeaders[i + 1]!)
    }
  }
  return forwardedChain(peer, forwardedFor, trusted).join(', ')
}

/** `Bearer h.p.s` → `Bearer h.p.SIGNATURE_REMOVED_BY_POSTERN`: the upstream can read, not replay, the caller's token. */
export function withoutSignature(value: string): string {
  const dot = value.lastIndexOf('.')
  return dot < 0 ? value : value.slice(0, dot + 1) + SIGNATURE_REMOVED
}

/**
 * Runs of characters a compact JWS (or a padded one) is made of, in either base64 alphabet: many
 * verifiers (PyJWT, google-auth) decode a signature written with + and / as well; linear to scan,
 * whatever the input.
 */
const JWS_RUN = /[A-Za-z0-9_=.+/-]+/g

/**
 * Whether `value` holds a compact JWS whose payload's `iss` is `issuer`, wherever it sits (after
 * `Bearer`, in an auth-param, among several), signed or not, or Postern's mark of a removed
 * signature: a token header Postern did not verify that holds one is not forwarded (the app would
 * take it for the verified one). Cheap unless the value holds a dot: only then is anything decoded.
 */
export function holdsPosternToken(value: string, issuer: string): boolean {
  if (!value.includes('.')) return false
  if (value.includes(SIGNATURE_REMOVED)) return true
  for (const [run] of value.matchAll(JWS_RUN)) {
    const parts = run.split('.')
    // A JWS is header.payload.signature; a run with more dots is checked at every position.
    for (let i = 1; i + 1 < parts.length; i++) if (issuerOf(parts[i]!) === issuer) return true
  }
  return false
}

function issuerOf(segment: string): unknown {
  if (segment.length < 8 || segment.length > 16_384) return undefined
  try {
    const payload: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'))
    return typeof payload === 'object' && payload !== null ? (payload as { iss?: unknown }).iss : undefined
  } catch {
    return undefined
  }
}

/**
 * A request's token headers as they may go upstream, by the rule of HEADER_RULES.tokens: what
 * forward-auth answers for a proxy in front to set in place of the client's (repeated values
 * joined, as a proxy would send them on one line), and what the nginx plane sets. The header
 * whose token was verified (`verified`, which holds one value) is `Bearer <our JWS>`: no need to
 * decode it, as in upstreamHeaders; a value of another that holds a Postern token is left out.
 */
export function strippedTokenHeaders(rawHeaders: readonly string[], issuer: string, verified?: TokenHeader): Partial<Record<TokenHeader, string>> {
  const out: Partial<Record<TokenHeader, string>> = {}
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const lower = rawHeaders[i]!.toLowerCase()
    if (lower !== 'authorization' && lower !== 'x-serverless-authorization') continue
    const raw = rawHeaders[i + 1]!
    if (lower !== verified && holdsPosternToken(raw, issuer)) continue
    const value = lower === verified ? withoutSignature(raw) : raw
    out[lower] = out[lower] === undefined ? value : `${out[lower]}, ${value}`
  }
  return out
}

/**
 * Whether a Set-Cookie value sets one of Postern's own cookies. A nameless cookie (`=postern_x=v`)
 * is sent back as `postern_x=v`, so it is read by what follows its empty name.
 */
export function setsPosternCookie(setCookie: string): boolean {
  const pair = setCookie.split(';', 1)[0]!.trimStart()
  const named = pair.startsWith('=') ? pair.slice(1).trimStart() : pair
  const eq = named.indexOf('=')
  return HEADER_RULES.posternCookie.test((eq < 0 ? named : named.slice(0, eq)).trim())
}

/**
 * A Cookie header without Postern's cookies (every `name=value` pair whose name is one of them),
 * the other pairs as they were; '' when nothing is left. Cheap unless the header mentions postern.
 */
export function withoutPosternCookies(value: string): string {
  if (!/postern/i.test(value)) return value
  return value
    .split(';')
    .filter((pair) => {
      const eq = pair.indexOf('=')
      return !HEADER_RULES.posternCookie.test((eq < 0 ? pair : pair.slice(0, eq)).trim())
    })
    .map((pair) => pair.trim())
    .filter(Boolean)
    .join('; ')
}

/**
 * Response headers from the upstream as a flat [name, value, …] list (undici's raw form, which
 * Node's writeHead takes as is), minus hop-by-hop ones, any the upstream's Connection names, and
 * any Set-Cookie for a Postern cookie (a service must not plant or replace the console session).
 * With `redirects`, a Location or Refresh naming the upstream's own URL names the public one
 * (http/redirect-location.ts); trailers are not redirects.
 */
export function downstreamHeaders(raw: readonly string[], redirects?: RedirectRewrite, keep: ReadonlySet<string> = NOTHING): string[] {
  let nominated: Set<string> | undefined
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.length === 10 && raw[i]!.toLowerCase() === 'connection') {
      nominated ??= new Set()
      for (const t of raw[i + 1]!.split(',')) nominated.add(t.trim().toLowerCase())
    }
  }
  const out: string[] = []
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase()
    if ((HOP_BY_HOP.has(lower) || nominated?.has(lower)) && !keep.has(lower)) continue
    if (lower === 'set-cookie' && setsPosternCookie(raw[i + 1]!)) continue
    if (redirects && (lower === 'location' || lower === 'refresh')) {
      const value = raw[i + 1]!
      out.push(raw[i]!, (lower === 'location' ? rewrittenLocation(value, redirects) : rewrittenRefresh(value, redirects)) ?? value)
      continue
    }
    out.push(raw[i]!, raw[i + 1]!)
  }
  return out
}

/**
 * The headers an upstream's answer with `status` carries to its caller: downstreamHeaders, and a
 * 204 without the ones that would give it a body's length (RFC 9110 §8.6: a server must not send
 * Content-Length in one). nginx drops them too, and HTTP/2 clients (nghttp2: curl, Node) reset a
 * 204 stream whose content-length is not 0, leaving the caller no answer. A 304 may name its
 * representation's size in Content-Length (§8.6), but not beside a Transfer-Encoding, which
 * makes the length one a recipient does not trust and a proxy removes (RFC 9112 §6.3), as nginx
 * does.
 */
export function answerHeaders(status: number, raw: readonly string[], redirects?: RedirectRewrite, keep: ReadonlySet<string> = NOTHING): string[] {
  const cleaned = downstreamHeaders(raw, redirects, keep)
  if (status !== 204 && (status !== 304 || !hasField(raw, 'transfer-encoding'))) return cleaned
  const out: string[] = []
  for (let i = 0; i < cleaned.length; i += 2) {
    const lower = cleaned[i]!.toLowerCase()
    if (lower !== 'content-length' && lower !== 'transfer-encoding') out.push(cleaned[i]!, cleaned[i + 1]!)
  }
  return out
}

/** Whether a flat [name, value, …] list has a field of that (lower-case) name. */
function hasField(raw: readonly string[], name: string): boolean {
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.length === name.length && raw[i]!.toLowerCase() === name) return true
  }
  return false
}

const CACHE_DECIDED = new RegExp(HEADER_RULES.cacheDecided, 'i')

/**
 * An answer's headers with `Cache-Control: private` added (in place) unless its first
 * Cache-Control already decides how shared caches treat it (HEADER_RULES.cacheDecided). The first,
 * as nginx's `$upstream_http_cache_control` reads it, so that both data planes add the same.
 */
export function privateToSharedCaches(headers: string[]): string[] {
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i]!.length !== 13 || headers[i]!.toLowerCase() !== 'cache-control') continue
    if (CACHE_DECIDED.test(headers[i + 1]!)) return headers
    break
  }
  headers.push('Cache-Control', 'private')
  return headers
}

/**
 * An upstream's trailers (a checksum, a gRPC status) as an HTTP/1.1 caller gets them: filtered
 * as downstreamHeaders filters a head, in the pairs ServerResponse.addTrailers takes. Node sends
 * them only when it chunks the answer (no Content-Length), and every HTTP/1.1 client reads them.
 */
export function downstreamTrailers(raw: readonly string[]): [string, string][] {
  const kept = downstreamHeaders(raw)
  const pairs: [string, string][] = []
  for (let i = 0; i < kept.length; i += 2) pairs.push([kept[i]!, kept[i + 1]!])
  return pairs
}
