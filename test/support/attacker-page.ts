import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { authorizeParams, pkcePair } from './web-sign-in.js'

/**
 * A page an attacker serves on another port of 127.0.0.1 — the same site as the control plane to
 * a browser, so SameSite=Strict sends the session cookie along — whose own listener waits for a
 * code at /cb. Opened at `/PATH?QUERY`, it sends the browser to `target(authorize, request)`,
 * where `authorize(over)` is an authorization request (a path) with the listener as its
 * redirect_uri; what reaches /cb is in `callbacks`.
 */
export async function startAttackerPage(target: (authorize: (over?: Record<string, string>) => string, request: URL) => string): Promise<{ url: string; callbacks: URLSearchParams[]; close(): void }> {
  const callbacks: URLSearchParams[] = []
  const { challenge } = pkcePair()
  const server = createServer((req, res) => {
    const request = new URL(req.url ?? '/', 'http://attacker')
    if (request.pathname === '/cb') {
      callbacks.push(request.searchParams)
      return res.end('got it')
    }
    const authorize = (over: Record<string, string> = {}) => {
      const params = authorizeParams(challenge, { redirect_uri: `${url}/cb`, ...over })
      return `/oauth2/authorize?${new URLSearchParams(params as Record<string, string>)}`
    }
    res.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><title>app</title><script>location.href = ${JSON.stringify(target(authorize, request))}</script>`)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return { url, callbacks, close: () => server.close() }
}
