import type { IncomingMessage } from 'node:http'
import { HTTP09_REFUSED, isHttp09 } from '../http/http09.js'
import { connectionNominated } from './headers.js'
import { NO_HOST, originFormTarget, type ShapeProblem } from '../http/request-target.js'

export type { ShapeProblem }

export const MAX_HEADERS = 2_000
/** The request line and headers of one request, in bytes (Node's maxHeaderSize on the gateway port). */
export const MAX_HEADER_BYTES = 256 * 1024

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

