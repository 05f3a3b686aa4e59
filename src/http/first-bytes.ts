import type { Socket } from 'node:net'

/** Whom a connection is for, once its first bytes say: a taker, or undefined while they cannot tell yet. */
export type FirstBytesReader = (seen: Buffer) => ((socket: Socket) => void) | undefined

/**
 * Reads a connection's first bytes until `read` can tell whom they are for, puts them back and
 * hands the socket over, paused: the taker treats it as if it had accepted it (an HTTP/2 session
 * or a TLS socket reads what is buffered itself; an HTTP/1.1 server's listeners do not resume a
 * paused socket, so a taker that hands it to one resumes it). A connection that says nothing
 * decisive within `timeoutMs` is closed, as an HTTP/1.1 server closes one that sends no headers.
 */
export function routeByFirstBytes(socket: Socket, read: FirstBytesReader, timeoutMs: number): void {
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
    const taker = read(seen)
    if (!taker) return
    done()
    socket.pause()
    socket.unshift(seen)
    taker(socket)
  }
  socket.on('data', onData)
  socket.on('error', onError)
  socket.on('close', onClose)
  socket.on('end', onEnd)
}
