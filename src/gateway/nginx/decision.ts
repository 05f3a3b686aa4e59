import type { KeyObject } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Clock } from '../../core/clock.js'
import type { Verdict } from '../../observability/metrics.js'
import { errorAnswer, refusalAnswer, sendAnswer, type Refusal } from '../answer.js'
import { upgradesToH2c } from '../../http/h2c-upgrade.js'
import { posternEndpoint } from '../../http/postern-paths.js'
import { headersForUpstream } from '../forward-auth.js'
import type { Access, Gateway } from '../gateway.js'
import { connectionNominated } from '../headers.js'
import { MAX_HEADERS } from '../request-shape.js'
import { originFormTarget } from '../../http/request-target.js'
import { DECISION_KEY_HEADER, ORIGINAL, VERDICT, VERDICT_CACHE_MS } from './decision-protocol.js'

const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v) ?? ''

/**
 * The nginx data plane's decision point: nginx's Lua asks, for a request it holds, and gets
 * either `allow` with everything to set upstream (the identity headers and signed assertion, the
 * token headers without their signatures, the Cookie header without Postern's cookies, which
 * upstream block, base path and timeout, and for how long the verdict may be reused), or the
 * exact response the Node gateway would have sent — the same `decideAccess`, the same refusal
 * bodies and challenges (answer.ts), the same denial audit.
 */
export function decisionEndpoint(
  gateway: Gateway,
  o: { issuer: string; clock: Clock; record: (service: string, verdict: Verdict) => void; publicKey: (kid: string) => KeyObject | undefined; peers: Peers },
) {
  const tokenKey = tokenKeys(o.publicKey)
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    req.resume()
    const h = req.headers
    const accept = h.accept
    const method = one(h[ORIGINAL.method]).toUpperCase() || 'GET'
    const host = one(h[ORIGINAL.host])
    // (A request refused for its form ends its connection, as on the Node gateway: gateway.ts.)
    const refuse = (r: Refusal, verdict: Verdict) => {
      o.record('', verdict)
      answer(res, refusalAnswer(verdict === 'bad_request' ? { ...r, headers: { ...r.headers, connection: 'close' } } : r, accept))
    }
    // What the Node gateway refuses before deciding (request-shape.ts), for the parts nginx lets through.
    // The client's headers, less those nginx set on its subrequest.
    if (clientHeaderCount(req.rawHeaders) > MAX_HEADERS) return refuse({ status: 'REQUEST_HEADER_FIELDS_TOO_LARGE', message: `More than ${MAX_HEADERS} request headers.` }, 'bad_request')
    // nginx sends no Connection header of its own on the subrequest; the client's is described.
    const nominated = connectionNominated(['connection', one(h[ORIGINAL.connection])])
    if (!nominated) {
      return refuse({ status: 'INVALID_ARGUMENT', message: 'The Connection header may not name Authorization, X-Serverless-Authorization, X-Forwarded-* or X-Postern-* headers.' }, 'bad_request')
    }
    const hasBody = (one(h[ORIGINAL.contentLength]) !== '' && one(h[ORIGINAL.contentLength]) !== '0') || one(h[ORIGINAL.transferEncoding]) !== ''
    if (one(h[ORIGINAL.protocol]) === 'HTTP/1.0' && one(h[ORIGINAL.transferEncoding]) !== '') return refuse({ status: 'INVALID_ARGUMENT', message: 'Transfer-Encoding is not allowed in HTTP/1.0.' }, 'bad_request')
    const target = originFormTarget(one(h[ORIGINAL.uri]) || '/', host)
    if ('problem' in target) return refuse(target.problem, 'bad_request')
    // An upgrade as the Node gateway reads one: an Upgrade header that Connection names, to
    // anything but h2c (served as the plain request it also is). nginx's Lua hands those to
    // Postern's gateway itself; any other Upgrade header is a plain request's, which goes nowhere
    // (nginx does not pass it on), and its body is forwarded as any other.
    const upgradeHeader = one(h[ORIGINAL.upgrade])
    const upgrade = upgradeHeader !== '' && nominated.has('upgrade') && !upgradesToH2c(upgradeHeader)
    if (upgrade && hasBody) return refuse({ status: 'INVALID_ARGUMENT', message: 'An Upgrade request may not carry a body.' }, 'bad_request')
    if (upgrade && posternEndpoint(target.target)) return refuse({ status: 'NOT_FOUND', message: 'Postern’s own paths do not take upgrades.' }, 'not_found')

    const access = await gateway.decideAccess({ method, host, rawHeaders: req.rawHeaders, path: target.target })
    // nginx forwards over HTTP/1.x only (grpc_pass is HTTP/2 callers' alone): Postern's gateway
    // sends these over h2c, and counts them when it does.
    if (access.ok && access.route.service.useHttp2) {
      res.writeHead(200, { [VERDICT.verdict]: 'gateway', 'cache-control': 'no-store', 'content-length': '0' })
      res.end()
      return
    }
    o.record(access.route?.resource ?? '', access.verdict)
    if (!access.ok) {
      answer(res, refusalAnswer(access, accept))
      return
    }
    const headers: Record<string, string> = {
      ...(await allowed(gateway, access, { method, upgrade, rawHeaders: req.rawHeaders, issuer: o.issuer, now: o.clock(), peers: o.peers })),
      ...(access.tokenHeader === 'authorization' && access.caller?.claims ? { [VERDICT.tokenKey]: tokenKey(h.authorization) } : {}),
      'cache-control': 'no-store',
      'content-length': '0',
    }
    res.writeHead(200, headers)
    res.end()
  }
}

/** An upstream's addresses as a verdict carries them, once its host name is looked up (upstream-peers.ts). */
export type Peers = (origin: string) => string | undefined | Promise<string | undefined>

/** An `allow` verdict: where to forward, what to set upstream, for how long nginx may reuse it. */
export async function allowed(
  gateway: Gateway,
  access: Extract<Access, { ok: true }>,
  r: { method: string; upgrade: boolean; rawHeaders: readonly string[]; issuer: string; now: number; peers: Peers },
): Promise<Record<string, string>> {
  const route = access.route
  const upstream = new URL(route.upstream.origin)
  const peers = r.peers(route.upstream.origin)
  return {
    [VERDICT.verdict]: 'allow',
    [VERDICT.upstream]: upstreamField(upstream.protocol, upstreamName(route.service.uid), typeof peers === 'object' ? await peers : peers),
    [VERDICT.basePath]: route.upstream.basePath,
    [VERDICT.upstreamHost]: upstream.host,
    [VERDICT.timeout]: String(route.service.timeoutSeconds),
    [VERDICT.resource]: route.resource,
    [VERDICT.cacheMs]: String(cacheMs(access, r.method, r.upgrade, r.now)),
    ...(await headersForUpstream(gateway, access, r.rawHeaders, r.issuer)),
  }
}

/**
 * The name a verdict gives a service's upstream, before its addresses (upstreamField): its uid,
 * which a renamed service keeps. nginx's Lua keys what it learns of an upstream by the whole
 * field (nginx-lua-balancer.ts), so another address is another entry.
 */
export function upstreamName(uid: string): string {
  return `postern_${uid.replace(/[^A-Za-z0-9_]/g, '_')}`
}

/**
 * The verdict's upstream: its name and the addresses it is forwarded to,
 * `https://NAME@host:port,host:port`, which nginx's Lua takes as they come (nginx-lua-balancer.ts),
 * or the name alone when there are none (its host name resolved to nothing: Postern's gateway
 * forwards it, and answers its 502).
 */
export function upstreamField(protocol: string, name: string, peers: string | undefined): string {
  return peers ? `${protocol}//${name}@${peers}` : `${protocol}//${name}`
}

/**
 * How long nginx may admit the same credentials on the same host and method without asking: a
 * second at most (a revocation takes effect within a second, as on the Node gateway), never past
 * the token's expiry; never for an upgrade (a tunnel is decided once, when it opens) and never
 * for a browser's unsafe request (it also depends on Origin and Sec-Fetch-Site).
 */
function cacheMs(access: Extract<Access, { ok: true }>, method: string, upgrade: boolean, now: number): number {
  if (upgrade) return 0
  const claims = access.caller?.claims
  if (claims) return tokenCacheMs(claims.exp, now)
  if (access.session) return method === 'GET' || method === 'HEAD' ? VERDICT_CACHE_MS : 0
  return VERDICT_CACHE_MS
}

/** A token's verdict: kept a second at most, never past the token's expiry (`exp`, in seconds). */
export function tokenCacheMs(exp: number, now: number): number {
  return Math.max(0, Math.min(VERDICT_CACHE_MS, exp * 1000 - now))
}

/**
 * An upstream that failed behind nginx gets the Node gateway's answer (forward.ts): 502 or 504
 * in the one shape, not nginx's HTML page.
 */
export function upstreamErrorEndpoint() {
  return (req: IncomingMessage, res: ServerResponse): void => {
    req.resume()
    const url = new URL(req.url ?? '/', 'http://x')
    const resource = (url.searchParams.get('resource') ?? '').slice(0, 300) || 'this service'
    const timeout = url.searchParams.get('timeout') ?? ''
    const a =
      url.searchParams.get('status') === '504'
        ? errorAnswer('DEADLINE_EXCEEDED', `The upstream of ${resource} did not answer within ${timeout} s.`, req.headers.accept)
        : errorAnswer('BAD_GATEWAY', `The upstream of ${resource} is unreachable.`, req.headers.accept)
    answer(res, a)
  }
}

/**
 * Postern's answer for nginx to send. One that ends its connection says so in the verdict, not in
 * a Connection header: that would end nginx's kept-alive connection to Postern instead.
 */
function answer(res: ServerResponse, a: ReturnType<typeof errorAnswer>): void {
  const { connection, ...headers } = a.headers
  sendAnswer(res, { ...a, headers }, { [VERDICT.verdict]: connection === 'close' ? 'close' : 'answer' })
}

/**
 * The key nginx may check further tokens with: the one that verified this request's token (an ID
 * token Postern just verified in Authorization), named by the token's own header. '' when the
 * header is not in the one shape nginx reads (then nginx asks Postern for every new token).
 */
function tokenKeys(publicKey: (kid: string) => KeyObject | undefined) {
  const der = new Map<string, string>()
  return (authorization: string | undefined): string => {
    const m = /^Bearer ([A-Za-z0-9_-]+)\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.exec(authorization ?? '')
    if (!m) return ''
    let kid: unknown
    try {
      kid = (JSON.parse(Buffer.from(m[1]!, 'base64url').toString('utf8')) as { kid?: unknown }).kid
    } catch {
      return ''
    }
    if (typeof kid !== 'string') return ''
    let value = der.get(kid)
    if (value === undefined) {
      const key = publicKey(kid)
      if (!key) return ''
      value = key.export({ type: 'spki', format: 'der' }).toString('base64')
      der.set(kid, value)
    }
    return value
  }
}

const SET_BY_NGINX = new Set(['host', 'connection', 'content-length', 'transfer-encoding', DECISION_KEY_HEADER, ...Object.values(ORIGINAL)])

function clientHeaderCount(raw: readonly string[]): number {
  let n = 0
  for (let i = 0; i < raw.length; i += 2) if (!SET_BY_NGINX.has(raw[i]!.toLowerCase())) n++
  return n
}
