import type { IncomingMessage, Server, ServerResponse } from 'node:http'

export interface Drained {
  /** Requests in flight when the drain began. */
  inFlight: number
  /** Of those (and any since), the HTTP/1.1 ones still unanswered at the bound, whose connections were cut. */
  cut: number
  /** Whether anything was still open at the bound (an HTTP/2 stream, say, which `cut` does not count) and cut. */
  boundReached: boolean
}

/**
 * Stopping a server as nginx's graceful shutdown does (RFC 9112 §9.6): no new connections; the
 * idle kept-alive ones closed at once; a request in flight finishes, its response saying
 * `Connection: close` when its head has not gone yet, and its connection closed after it (Node's
 * own close() answers it `Connection: keep-alive` and keeps the connection until its keep-alive
 * timeout); whatever is still open after the bound is cut. Call it once, when the server is
 * made, so every request is seen.
 */
export function drainable(server: Server): { drain(boundMs: number): Promise<Drained>; inFlight(): number } {
  const responses = new Set<ServerResponse>()
  let draining = false
  const closeAfter = (res: ServerResponse) => {
    if (!res.headersSent) res.shouldKeepAlive = false
    // The head went out saying keep-alive: the connection is idle once the response is done.
    else res.once('finish', () => setImmediate(() => server.closeIdleConnections()))
  }
  const track = (_req: IncomingMessage, res: ServerResponse) => {
    responses.add(res)
    res.once('close', () => responses.delete(res))
    // A request that came on a kept-alive connection after the drain began (pipelined, or sent as it began).
    if (draining) closeAfter(res)
  }
  // First, so the flag is set before any handler answers; 'checkContinue' requests (Expect:
  // 100-continue) are not 'request' events.
  server.prependListener('request', track)
  server.prependListener('checkContinue', track)
  return {
    inFlight: () => responses.size,
    drain(boundMs) {
      draining = true
      const inFlight = responses.size
      let cut = 0
      let boundReached = false
      return new Promise((resolve) => {
        const bound = setTimeout(() => {
          boundReached = true
          cut = responses.size
          server.closeAllConnections()
        }, boundMs)
        server.close(() => {
          clearTimeout(bound)
          resolve({ inFlight, cut, boundReached })
        })
        for (const res of responses) closeAfter(res)
        server.closeIdleConnections()
      })
    },
  }
}
