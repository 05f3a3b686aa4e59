import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Verdict } from '../observability/metrics.js'
import type { Access, Gateway } from './gateway.js'
import { refusalAnswer, sendAnswer } from './answer.js'
import { HEADER_RULES, strippedTokenHeaders, withoutPosternCookies } from './headers.js'

export const FORWARD_AUTH_PATH = '/forward-auth'

/** The answer headers that carry the client's token headers, signatures removed, for the proxy to send upstream instead. */
export const FORWARD_AUTH_ANSWER = { authorization: 'x-postern-authorization', 'x-serverless-authorization': 'x-postern-serverless-authorization', cookie: 'x-postern-cookie' } as const

const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v)?.split(',')[0]?.trim()

/**
 * Forward-auth: nginx `auth_request`, Envoy `ext_authz` (HTTP), Traefik ForwardAuth and
 * Caddy `forward_auth` ask Postern about a request they carry themselves. The original host,
 * URI and method come from the headers those send (X-Forwarded-Host / X-Original-URI /
 * X-Forwarded-Uri / X-Original-Method / X-Forwarded-Method; with Envoy's path_prefix the original
 * path follows /forward-auth). The decision is exactly the gateway's; 200 carries the identity
 * headers to copy upstream, and the request's Authorization and X-Serverless-Authorization with
 * the signature of any Postern token removed (X-Postern-Authorization,
 * X-Postern-Serverless-Authorization), which the proxy sends upstream in place of the client's:
 * no upstream receives a token it could replay, public service or not; and the request's Cookie
 * without Postern's cookies (X-Postern-Cookie), likewise. 401/403 carry the same bodies and
 * challenges as the gateway's, and a browser's redirect to sign in, its callback and Postern's
 * pages are answered as the gateway answers them (a proxy that relays forward-auth's non-2xx
 * answers as they are — Caddy, Traefik — carries the browser flow; nginx's auth_request passes on
 * only a status, so the nginx example asks again about a refused request and relays that answer).
 */
export function forwardAuth(gateway: Gateway, issuer: string, record: (service: string, verdict: Verdict) => void) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const host = first(req.headers['x-forwarded-host']) ?? first(req.headers['x-original-host']) ?? req.headers.host
    const suffix = (req.url ?? '').slice(FORWARD_AUTH_PATH.length)
    const path = first(req.headers['x-original-uri']) ?? first(req.headers['x-forwarded-uri']) ?? (suffix.startsWith('/') ? suffix : '/')
    const method = first(req.headers['x-original-method']) ?? first(req.headers['x-forwarded-method']) ?? 'GET'
    const access = await gateway.decideAccess({ method: method.toUpperCase(), host, rawHeaders: req.rawHeaders, path })
    record(access.route?.resource ?? '', access.verdict)
    req.resume()
    if (!access.ok) {
      // A host that is no service is a configuration error of the proxy in front: say so (not
      // while the view is not trusted: then the host may be a service, and the answer is 503).
      const message = access.unknownHost && access.status === 'NOT_FOUND' ? `${access.message} (forward-auth: set X-Forwarded-Host to the original Host)` : access.message
      sendAnswer(res, refusalAnswer({ ...access, message }, req.headers.accept))
      return
    }
    res.writeHead(200, { 'cache-control': 'no-store', 'content-length': '0', ...(await headersForUpstream(gateway, access, req.rawHeaders, issuer)) })
    res.end()
  }
}

/**
 * What a proxy that carries an admitted request sets upstream: the identity headers and signed
 * assertion, the token headers without their signatures and the Cookie header without Postern's
 * cookies (forward-auth's answer and the nginx data plane's verdict alike). Every header is
 * always present, empty when there is nothing to say: some proxies copy a header that is absent
 * as a literal placeholder (Caddy 2.6's copy_headers does).
 */
export async function headersForUpstream(gateway: Gateway, access: Access & { ok: true }, rawHeaders: readonly string[], issuer: string): Promise<Record<string, string>> {
  const identity = await gateway.identityOf(access)
  const tokens = strippedTokenHeaders(rawHeaders, issuer, access.tokenHeader)
  return {
    [HEADER_RULES.identity.principal]: identity?.principal ?? '',
    [HEADER_RULES.identity.email]: identity?.email ?? '',
    [HEADER_RULES.identity.assertion]: identity?.assertion ?? '',
    [FORWARD_AUTH_ANSWER.authorization]: tokens.authorization ?? '',
    [FORWARD_AUTH_ANSWER['x-serverless-authorization']]: tokens['x-serverless-authorization'] ?? '',
    [FORWARD_AUTH_ANSWER.cookie]: forwardableCookie(rawHeaders),
  }
}

/** The request's Cookie headers joined as one, without Postern's cookies (HEADER_RULES.posternCookie). */
export function forwardableCookie(rawHeaders: readonly string[]): string {
  const kept: string[] = []
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() !== HEADER_RULES.cookie) continue
    const value = withoutPosternCookies(rawHeaders[i + 1]!)
    if (value) kept.push(value)
  }
  return kept.join('; ')
}
