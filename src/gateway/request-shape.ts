import type { IncomingMessage } from 'node:http'
import { connectionNominated } from './headers.js'

export const MAX_HEADERS = 2_000

export type ShapeProblem = { status: 'INVALID_ARGUMENT' | 'REQUEST_HEADER_FIELDS_TOO_LARGE'; message: string }

/**
 * Requests whose framing or headers could be read two ways by two hops are refused before
 * anything else (request smuggling, header injection, issue 4). Node's parser already refuses
 * conflicting Content-Length/Transfer-Encoding; this covers what it lets through.
 */
export function checkRequestShape(req: IncomingMessage): { problem: ShapeProblem } | { nominated: Set<string> } {
  const raw = req.rawHeaders
  if (raw.length / 2 > MAX_HEADERS) return { problem: { status: 'REQUEST_HEADER_FIELDS_TOO_LARGE', message: `More than ${MAX_HEADERS} request headers.` } }
  let hosts = 0
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.length === 4 && raw[i]!.toLowerCase() === 'host') hosts++
  if (hosts !== 1) return { problem: { status: 'INVALID_ARGUMENT', message: hosts === 0 ? 'The request has no Host header.' : 'The request has more than one Host header.' } }
  if (req.httpVersion === '1.0' && req.headers['transfer-encoding'] !== undefined) {
    return { problem: { status: 'INVALID_ARGUMENT', message: 'Transfer-Encoding is not allowed in HTTP/1.0.' } }
  }
  const nominated = connectionNominated(raw)
  if (!nominated) return { problem: { status: 'INVALID_ARGUMENT', message: 'The Connection header may not name Authorization, X-Serverless-Authorization, X-Forwarded-* or X-Postern-* headers.' } }
  return { nominated }
}
