import type { ServerResponse } from 'node:http'
import { PosternError, errorBody, type ErrorStatus } from '../core/errors.js'
import { errorPage } from '../http/respond.js'

/** Gateway errors in the one shape (DESIGN §4); a browser gets the same words as a page. */
export function sendGatewayError(res: ServerResponse, accept: string | undefined, status: ErrorStatus, message: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy()
    return
  }
  const err = new PosternError(status, message)
  const html = accept !== undefined && accept.includes('text/html') && !accept.includes('application/json')
  const body = html ? errorPage(err.httpCode, status, message) : JSON.stringify(errorBody(err))
  res.writeHead(err.httpCode, {
    'content-type': html ? 'text/html; charset=utf-8' : 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...(html && { 'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'" }),
    ...headers,
  })
  res.end(body)
}

export const CHALLENGE = 'Bearer realm="postern"'

export function invalidTokenChallenge(description: string): string {
  return `Bearer realm="postern", error="invalid_token", error_description="${description.replace(/["\\\r\n]/g, "'")}"`
}
