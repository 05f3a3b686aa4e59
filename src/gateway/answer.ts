import type { ServerResponse } from 'node:http'
import { PosternError, errorBody, type ErrorStatus } from '../core/errors.js'
import { wantsHtml } from '../http/accept.js'
import { errorPage } from '../http/respond.js'
import { encodeGrpcMessage, grpcCode } from '../http/http2/grpc-status.js'

/**
 * A response the gateway gives itself rather than the upstream — a refusal, a redirect to sign
 * in, a page, the callback's cookie, an upstream that failed — as data: status, headers and
 * body, so that every data plane (the Node gateway, an upgrade's raw socket, forward-auth, the
 * nginx data plane's decisions) sends the same bytes.
 */
export interface Answer {
  status: number
  headers: Record<string, string | string[]>
  body: string
}

/** A refusal as decided (gateway.ts `Access` when not ok): its own answer, or an error in the one shape. */
export interface Refusal {
  status: ErrorStatus
  message: string
  headers?: Record<string, string>
  answer?: Answer
}

/**
 * The one function that turns a refusal into what is sent (DESIGN §4): the error shape
 * `{"error":{"code","status","message"}}`, or for a browser asking for HTML the same words as a
 * small page (the one Accept rule, http/accept.ts); the refusal's own headers (a challenge,
 * Retry-After) last.
 */
export function refusalAnswer(refusal: Refusal, accept: string | undefined): Answer {
  return refusal.answer ?? errorAnswer(refusal.status, refusal.message, accept, refusal.headers)
}

export function errorAnswer(status: ErrorStatus, message: string, accept: string | undefined, headers: Record<string, string> = {}): Answer {
  const err = new PosternError(status, message)
  const html = wantsHtml(accept)
  return {
    status: err.httpCode,
    headers: {
      'content-type': html ? 'text/html; charset=utf-8' : 'application/json; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      ...(html && { 'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'" }),
      ...headers,
    },
    body: html ? errorPage(err.httpCode, status, message) : JSON.stringify(errorBody(err)),
  }
}

/**
 * A refusal as gRPC says errors (trailers-only: HTTP 200, `grpc-status` and `grpc-message` in the
 * one header block, no body), with the same words as the error shape; h2-responses.ts sends the
 * same on the Node gateway's own streams.
 */
export function grpcAnswer(status: ErrorStatus, message: string): Answer {
  return { status: 200, headers: { 'content-type': 'application/grpc', 'grpc-status': String(grpcCode(status)), 'grpc-message': encodeGrpcMessage(message) }, body: '' }
}

export function sendAnswer(res: ServerResponse, answer: Answer, extra: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy()
    return
  }
  res.writeHead(answer.status, { ...answer.headers, 'content-length': Buffer.byteLength(answer.body), ...extra })
  res.end(answer.body)
}

/** An answer as the bytes of an HTTP/1.1 response that ends its connection: for an upgrade refused on its raw socket. */
export function answerBytes(answer: Answer): string {
  const lines = [`HTTP/1.1 ${answer.status} ${REASON[answer.status] ?? 'Refused'}`]
  for (const [name, value] of Object.entries(answer.headers)) {
    if (name === 'connection' || name === 'content-length') continue
    for (const v of Array.isArray(value) ? value : [value]) lines.push(`${name}: ${v}`)
  }
  lines.push(`content-length: ${Buffer.byteLength(answer.body)}`, 'connection: close')
  return `${lines.join('\r\n')}\r\n\r\n${answer.body}`
}

const REASON: Record<number, string> = {
  302: 'Found',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
}
