import type { OutgoingHttpHeaders, ServerHttp2Stream } from 'node:http2'
import { PosternError, errorBody, type ErrorStatus } from '../../core/errors.js'
import { errorPage } from '../../http/respond.js'
import { grpcAnswer, type Answer } from '../answer.js'

/** Headers that mean something only to an HTTP/1.1 connection and are malformed in HTTP/2 (RFC 9113 §8.2.2). */
const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade'])

function withoutConnectionHeaders(headers: Record<string, string | string[]> = {}): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {}
  for (const [name, value] of Object.entries(headers)) if (!CONNECTION_SPECIFIC.has(name.toLowerCase())) out[name.toLowerCase()] = value
  return out
}

/**
 * A gateway refusal on an HTTP/2 stream. A gRPC caller gets it as gRPC does errors — HTTP 200,
 * trailers-only, `grpc-status` and the same message in `grpc-message` — so its client reports
 * UNAUTHENTICATED or PERMISSION_DENIED with Postern's words; anyone else gets the one JSON shape
 * (or the page, for a browser), as over HTTP/1.1.
 */
export function sendH2Error(stream: ServerHttp2Stream, o: { grpc: boolean; accept?: string }, status: ErrorStatus, message: string, headers?: Record<string, string>): void {
  if (stream.destroyed || stream.closed) return
  if (stream.headersSent) {
    stream.close()
    return
  }
  const extra = withoutConnectionHeaders(headers)
  if (o.grpc) {
    stream.respond({ ...extra, ':status': 200, ...grpcAnswer(status, message).headers }, { endStream: true })
    return
  }
  const err = new PosternError(status, message)
  const html = o.accept !== undefined && o.accept.includes('text/html') && !o.accept.includes('application/json')
  const body = html ? errorPage(err.httpCode, status, message) : JSON.stringify(errorBody(err))
  stream.respond({
    ':status': err.httpCode,
    'content-type': html ? 'text/html; charset=utf-8' : 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...(html && { 'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'" }),
    ...extra,
  })
  stream.end(body)
}

/** A response the gateway gives itself (a redirect to sign in, a page) on an HTTP/2 stream. */
export function sendH2Answer(stream: ServerHttp2Stream, answer: Answer): void {
  if (stream.destroyed || stream.closed) return
  stream.respond({ ...withoutConnectionHeaders(answer.headers), ':status': answer.status, 'content-length': Buffer.byteLength(answer.body) })
  stream.end(answer.body)
}
