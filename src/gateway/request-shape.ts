import type { IncomingMessage } from 'node:http'
import { HTTP09_REFUSED, isHttp09 } from '../http/http09.js'
import { connectionNominated } from './headers.js'

export const MAX_HEADERS = 2_000
/** The request line and headers of one request, in bytes (Node's maxHeaderSize on the gateway port). */
export const MAX_HEADER_BYTES = 256 * 1024

export type ShapeProblem = {
  status: 'INVALID_ARGUMENT' | 'REQUEST_HEADER_FIELDS_TOO_LARGE' | 'METHOD_NOT_ALLOWED'
  message: string
  /** Where the request's body ends is in doubt: nothing more may be read from its connection (what follows could be read as requests). */
  framingInDoubt?: true
}

const NO_HOST = 'The request has no Host header.'

const ABSOLUTE = /^(https?):\/\/([^/?#]*)([^#]*)/i
const withoutDefaultPort = (authority: string) => authority.toLowerCase().replace(/:(80|443)$/, '')

/**
 * The request target in origin-form, which is all an upstream is sent (RFC 9112 §3.2):
 * - origin-form (`/path?query`) as sent, byte for byte, less any fragment (clients never send
 *   one; it is not part of the target);
 * - absolute-form (`http://host/path`) rewritten to origin-form when its authority is the Host
 *   header's, and refused when it names another: RFC 9112 §3.2.2 has a server route by the
 *   target's authority, a proxy by Host, so two hops could read such a request two ways — and
 *   the upstream would see an authority that was not the one routed on;
 * - `OPTIONS *` and every other form refused: the gateway answers only for its services;
 * - a path whose dot segments climb above its root refused (climbsAboveRoot).
 */
export function originFormTarget(target: string, host: string): { target: string } | { problem: ShapeProblem } {
  if (target.startsWith('/')) {
    const hash = target.indexOf('#')
    return checkedPath(hash < 0 ? target : target.slice(0, hash))
  }
  if (target === '*') return { problem: { status: 'INVALID_ARGUMENT', message: 'The request target * asks for the server as a whole; the gateway answers only for a service’s URL.' } }
  const m = ABSOLUTE.exec(target)
  if (!m) return { problem: { status: 'INVALID_ARGUMENT', message: 'The request target must be a path (origin-form) or an absolute http(s) URL.' } }
  // (HTTP/1.0 needs no Host; Postern does, to route, on both planes.)
  if (host === '') return { problem: { status: 'INVALID_ARGUMENT', message: NO_HOST } }
  if (m[2]!.includes('@') || withoutDefaultPort(m[2]!) !== withoutDefaultPort(host)) {
    return { problem: { status: 'INVALID_ARGUMENT', message: 'The request target names another host than the Host header.' } }
  }
  const rest = m[3]!
  return checkedPath(rest.startsWith('/') ? rest : `/${rest}`)
}

function checkedPath(target: string): { target: string } | { problem: ShapeProblem } {
  if (climbsAboveRoot(target)) return { problem: { status: 'INVALID_ARGUMENT', message: 'The request path climbs above its root (a ".." segment).' } }
  return { target }
}

/**
 * Whether an origin-form target's path climbs above "/" as an upstream may read it: its
 * percent-encoding decoded, a backslash read as "/" (as WHATWG URL parsers do), a segment's ";"
 * parameters ignored (as Java servlet containers do). An upstream is sent the service's base
 * path and then the target as it came, so `/../admin` would reach `/admin` beside the base path,
 * outside what the service's policy guards. (nginx refuses such a path itself.)
 */
export function climbsAboveRoot(target: string): boolean {
  const query = target.indexOf('?')
  const path = query < 0 ? target : target.slice(0, query)
  if (!path.includes('.') && !/%2e/i.test(path)) return false
  const decoded = path.replace(/%([0-9a-f]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)))
  let depth = 0
  for (const part of decoded.split(/[/\\]/).slice(1)) {
    const segment = part.split(';')[0]
    if (segment === '..') {
      if (--depth < 0) return true
    } else if (segment !== '.' && segment !== '') depth++
  }
  return false
}

/** Why TRACE is refused, on either data plane. */
export const TRACE_REFUSED = 'TRACE is not passed on.'

/**
 * Requests whose framing or headers could be read two ways by two hops are refused before
 * anything else (request smuggling, header injection). Node's parser already refuses
 * conflicting Content-Length/Transfer-Encoding; this covers what it lets through.
 */
export function checkRequestShape(req: IncomingMessage): { problem: ShapeProblem } | { nominated: Set<string>; target: string } {
  // An upstream answers TRACE with the request it received: the signed assertion and the
  // identity headers would be handed to the caller. nginx refuses it too (405).
  if (req.method === 'TRACE') return { problem: { status: 'METHOD_NOT_ALLOWED', message: TRACE_REFUSED } }
  // A request line without a version (http09.ts): an upstream would be sent HTTP/1.1 it never
  // saw (`PRI /x` reached one, whose parser refused it).
  if (isHttp09(req)) return { problem: { status: 'INVALID_ARGUMENT', message: HTTP09_REFUSED } }
  const raw = req.rawHeaders
  if (raw.length / 2 > MAX_HEADERS) return { problem: { status: 'REQUEST_HEADER_FIELDS_TOO_LARGE', message: `More than ${MAX_HEADERS} request headers.` } }
  let hosts = 0
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.length === 4 && raw[i]!.toLowerCase() === 'host') hosts++
  if (hosts !== 1) return { problem: { status: 'INVALID_ARGUMENT', message: hosts === 0 ? NO_HOST : 'The request has more than one Host header.' } }
  if (req.httpVersion === '1.0' && req.headers['transfer-encoding'] !== undefined) {
    return { problem: { status: 'INVALID_ARGUMENT', message: 'Transfer-Encoding is not allowed in HTTP/1.0.', framingInDoubt: true } }
  }
  // A coding beside chunked (gzip, chunked): Node takes the chunks off and the upstream would get
  // the body with no word of its coding. nginx refuses it too (501).
  const te = req.headers['transfer-encoding']
  if (te !== undefined && te.trim().toLowerCase() !== 'chunked') {
    return { problem: { status: 'INVALID_ARGUMENT', message: 'Transfer-Encoding may only be chunked.', framingInDoubt: true } }
  }
  const nominated = connectionNominated(raw)
  if (!nominated) return { problem: { status: 'INVALID_ARGUMENT', message: 'The Connection header may not name Authorization, X-Serverless-Authorization, X-Forwarded-* or X-Postern-* headers.' } }
  const target = originFormTarget(req.url ?? '/', req.headers.host ?? '')
  if ('problem' in target) return target
  return { nominated, target: target.target }
}

