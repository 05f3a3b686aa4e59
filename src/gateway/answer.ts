import type { ServerResponse } from 'node:http'

/**
 * A response the gateway gives itself rather than the upstream — a redirect to sign in, a page,
 * the callback's cookie — as data: status, headers and body, so any data plane sends it as is.
 */
export interface Answer {
  status: number
  headers: Record<string, string | string[]>
  body: string
}

export function sendAnswer(res: ServerResponse, answer: Answer, extra: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy()
    return
  }
  res.writeHead(answer.status, { ...answer.headers, 'content-length': Buffer.byteLength(answer.body), ...extra })
  res.end(answer.body)
}
