import type { IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'

/**
 * How long a connection answered before its request's body arrived goes on reading, and throwing
 * away, what its client sends. nginx's lingering_time, as the nginx plane sets it (nginx-config.ts),
 * lingers one to two seconds: it counts whole seconds.
 */
export const LINGER_MS = 1_000

/**
 * Closes the connection of a request answered before its body arrived as nginx's lingering close
 * does, once Node's server ends it (an answer with `Connection: close` ends in
 * `socket.destroySoon()`): the answer goes out followed by the write side's close, and the rest
 * of the body is read and thrown away until it has all come, the client closes, or LINGER_MS
 * pass. Closed at once, the socket is reset by the next body bytes to reach it, and a client that
 * writes its body after its head (undici, so Node's fetch and `postern services proxy`) fails
 * that write with EPIPE before it reads the answer: one refused upload in three got EPIPE, not 401.
 */
export function lingerOnClose(socket: Socket, req: IncomingMessage): void {
  socket.destroySoon = function lingeringClose(this: Socket): void {
    let answered = false
    let drained = req.complete
    const close = (): void => void this.destroy()
    const closeOnceBoth = (): void => {
      if (answered && drained) close()
    }
    const timer = setTimeout(close, LINGER_MS).unref()
    this.once('close', () => clearTimeout(timer))
    const readAll = (): void => {
      drained = true
      closeOnceBoth()
    }
    req.once('end', readAll)
    this.once('end', readAll)
    this.end(() => {
      answered = true
      closeOnceBoth()
    })
  }
}

/**
 * Reads the rest of a request's body and throws it away, as Node does for a handler that never
 * read it, so that the connection carries the client's next request: for a request whose answer
 * came before its body had all come (an upstream's early 413). undici, which was sending the body
 * on, destroys the request then, and Node stops reading a connection whose request will take no
 * more: the client's next request on it waited for the keep-alive timeout and was reset. A body
 * still coming after LINGER_MS ends the connection, as nginx's lingering_time does.
 * `socket` is the request's: undici takes `req.socket` away as it destroys the request.
 */
export function discardRestOfBody(req: IncomingMessage, socket: Socket): void {
  // Node's own discard (what it does for an unread body): the body's bytes are dropped as parsed,
  // even once the request is destroyed.
  ;(req as IncomingMessage & { _dump(): void })._dump()
  socket.resume()
  setTimeout(() => {
    if (!req.complete) socket.destroy()
  }, LINGER_MS).unref()
}
