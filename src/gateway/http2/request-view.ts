import type { IncomingHttpHeaders } from 'node:http2'
import type { RequestView } from '../gateway.js'
import { MAX_HEADERS, type ShapeProblem } from '../request-shape.js'
import { originFormTarget } from '../../http/request-target.js'

/** An HTTP/2 request as the gateway decides on it: the same view an HTTP/1.1 request gives. */
export interface H2Request extends RequestView {
  host: string
  /** The client sent `te: trailers` (gRPC does, to detect proxies that would drop trailers). */
  trailers: boolean
}

/**
 * The HTTP/1.1 view of an HTTP/2 request (RFC 9113 §8.3.1): `:authority` (or, without it, the
 * one Host header) is the Host; `:path` is the target, held to origin-form as an HTTP/1.1 target
 * is; pseudo-headers leave the header list; cookie crumbs are joined into one Cookie header
 * (§8.2.3), so Postern's cookies are found and removed however a client split them. nghttp2 has
 * already refused what HTTP/2 forbids (connection-specific headers, uppercase names, a missing
 * `:method`/`:path`/`:scheme`), so nothing here can be framed two ways.
 */
export function h2RequestView(headers: IncomingHttpHeaders, rawHeaders: readonly string[]): H2Request | { problem: ShapeProblem } {
  const method = String(headers[':method'] ?? '')
  if (method === 'CONNECT') return { problem: { status: 'INVALID_ARGUMENT', message: 'The gateway does not open tunnels (CONNECT); ask a service’s URL.' } }
  const authority = headers[':authority']
  const hosts: string[] = []
  const cookies: string[] = []
  const raw: string[] = []
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!
    if (name.startsWith(':')) continue
    const value = rawHeaders[i + 1]!
    if (name === 'host') hosts.push(value)
    else if (name === 'cookie') cookies.push(value)
    else raw.push(name, value)
  }
  if (hosts.length > 1) return { problem: { status: 'INVALID_ARGUMENT', message: 'The request has more than one Host header.' } }
  if (authority !== undefined && hosts.length === 1 && hosts[0]!.toLowerCase() !== String(authority).toLowerCase()) {
    return { problem: { status: 'INVALID_ARGUMENT', message: 'The Host header names another host than :authority.' } }
  }
  const host = authority !== undefined ? String(authority) : hosts[0]
  if (!host) return { problem: { status: 'INVALID_ARGUMENT', message: 'The request has neither :authority nor Host.' } }
  if (raw.length / 2 + 2 > MAX_HEADERS) return { problem: { status: 'REQUEST_HEADER_FIELDS_TOO_LARGE', message: `More than ${MAX_HEADERS} request headers.` } }
  const target = originFormTarget(String(headers[':path'] ?? ''), host)
  if ('problem' in target) return target
  if (cookies.length > 0) raw.push('cookie', cookies.join('; '))
  return { method, host, path: target.target, rawHeaders: ['host', host, ...raw], trailers: headers.te === 'trailers' }
}
