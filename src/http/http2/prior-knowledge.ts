import type { Socket } from 'node:net'

/** RFC 9113 §3.4: what a client that knows the server speaks HTTP/2 sends first, in cleartext (h2c). */
export const CONNECTION_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1')

/**
 * Whether the first bytes of a connection are (so far) the HTTP/2 preface: 'h2' once all of it
 * has arrived, 'http/1.1' as soon as a byte differs, undefined while what came is a prefix of it.
 * An HTTP/1.1 request line never starts with `PRI * HTTP/2.0`, so the two cannot be confused.
 */
export function readPreface(first: Buffer): 'h2' | 'http/1.1' | undefined {
  const n = Math.min(first.length, CONNECTION_PREFACE.length)
  if (first.subarray(0, n).compare(CONNECTION_PREFACE, 0, n) !== 0) return 'http/1.1'
  return n === CONNECTION_PREFACE.length ? 'h2' : undefined
}

/**
 * Serves HTTP/1.1 and h2c with prior knowledge on one cleartext port: reads a connection's first
 * bytes, puts them back, and hands the socket to whichever server speaks its protocol (each
 * takes it as if it had accepted it). A connection that sends nothing within `timeoutMs` is
 * closed, as an HTTP/1.1 server closes one that sends no headers.
 */
export function routeByPreface(socket: Socket, servers: { h1: (s: Socket) => void; h2: (s: Socket) => void }, timeoutMs: number): void {
  let seen: Buffer = Buffer.alloc(0)
  const timer = setTimeout(() => socket.destroy(), timeoutMs)
  timer.unref()
  const done = () => {
    clearTimeout(timer)
    socket.off('data', onData)
    socket.off('error', onError)
    socket.off('close', onClose)
    socket.off('end', onEnd)
  }
  const onError = () => done()
  const onClose = () => done()
  // HTTP servers allow half-open sockets (they answer before closing): one that ends before
  // saying anything is closed here, or it would count against --max-connections until the timeout.
  const onEnd = () => {
    done()
    socket.destroy()
  }
  const onData = (chunk: Buffer) => {
    seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk])
    const protocol = readPreface(seen)
    if (!protocol) return
    done()
    socket.pause()
    socket.unshift(seen)
    // An HTTP/2 session reads what is buffered itself; an HTTP/1.1 server's listeners do not
    // resume a paused socket, so it is resumed for them.
    if (protocol === 'h2') servers.h2(socket)
    else {
      servers.h1(socket)
      socket.resume()
    }
  }
  socket.on('data', onData)
  socket.on('error', onError)
  socket.on('close', onClose)
  socket.on('end', onEnd)
}
