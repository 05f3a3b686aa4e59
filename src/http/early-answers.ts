import type { Socket } from 'node:net'
import { buildConnector } from 'undici'

type WriteDone = (err?: Error | null) => void

/**
 * undici's `connect` option, for connections to a server that may answer a request before it has
 * read the body and then close (a plain Node server's early 413 or 401 does): the body write
 * that the closed connection refuses (EPIPE, ECONNRESET) no longer ends the socket, so its answer,
 * already in the socket, is read and relayed rather than lost to a 502. One request in seventy
 * streaming a body to such an upstream got the gateway's 502 or a reset; nginx relays the answer.
 * The rest of the body is thrown away; with no answer to read, the connection's close fails the
 * request as before.
 */
export function connectReadingEarlyAnswers(options: buildConnector.BuildOptions): buildConnector.connector {
  const connect = buildConnector(options)
  return (opts, callback) =>
    connect(opts, (...args) => {
      if (args[1]) readAnswerAfterRefusedWrites(args[1])
      callback(...args)
    })
}

/** The socket's writes, once the peer refuses one, succeed without sending anything. */
function readAnswerAfterRefusedWrites(socket: Socket): void {
  const own = socket as Socket & { _write: Socket['_write']; _writev: NonNullable<Socket['_writev']> }
  const write = own._write
  const writev = own._writev
  let refused = false
  // A stream has one write under way at a time: its callback waits here.
  let waiting: WriteDone | undefined
  const done: WriteDone = (err) => {
    const cb = waiting!
    waiting = undefined
    if (err && PEER_GONE.has((err as NodeJS.ErrnoException).code ?? '')) {
      refused = true
      cb()
    } else cb(err)
  }
  own._write = function (chunk, encoding, cb) {
    if (refused) return cb()
    waiting = cb
    write.call(this, chunk, encoding, done)
  }
  own._writev = function (chunks, cb) {
    if (refused) return cb()
    waiting = cb
    writev.call(this, chunks, done)
  }
}

const PEER_GONE = new Set(['EPIPE', 'ECONNRESET'])
