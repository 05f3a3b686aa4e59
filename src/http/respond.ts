import type { ServerResponse } from 'node:http'
import { errorBody, type PosternError } from '../core/errors.js'
import { wantsHtml } from './accept.js'

/** Headers every control-plane response carries. */
export const SECURITY_HEADERS: Record<string, string> = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
}

export function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  const body = JSON.stringify(value)
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), ...headers })
  res.end(body)
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

/** The one error shape (DESIGN §4); a browser asking for HTML gets the same words as a page. */
export function sendError(res: ServerResponse, err: PosternError, accept: string | undefined): void {
  if (res.headersSent) {
    res.destroy()
    return
  }
  const headers = err.headers ?? {}
  if (wantsHtml(accept)) {
    const page = errorPage(err.httpCode, err.status, err.message)
    res.writeHead(err.httpCode, {
      ...SECURITY_HEADERS,
      ...headers,
      'content-type': 'text/html; charset=utf-8',
      'content-length': Buffer.byteLength(page),
      'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    })
    res.end(page)
    return
  }
  sendJson(res, err.httpCode, errorBody(err), headers)
}

export function errorPage(code: number, status: string, message: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${code} ${escapeHtml(status)}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#222}code{background:#f4f4f4;padding:.1rem .3rem}</style></head>
<body><h1>Error ${code}: ${escapeHtml(status)}</h1><p>${escapeHtml(message)}</p></body></html>`
}
