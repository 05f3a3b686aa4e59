import type { ServerResponse } from 'node:http'

/**
 * Sends an answer's head written with writeHead on the next turn of the event loop, unless the
 * answer has ended by then. Node's writeHead sends nothing until the first write, so a relayed
 * event stream's headers would otherwise reach the caller only with its first event (an
 * EventSource opens on the headers). When body bytes were written in the meantime, the head has
 * gone with them and this sends nothing more.
 */
export function flushHeadSoon(res: ServerResponse): void {
  setImmediate(() => {
    if (!res.writableEnded && !res.destroyed) res.flushHeaders()
  })
}
