import http2, { type Http2Session, type ServerHttp2Stream } from 'node:http2'

const { NGHTTP2_NO_ERROR } = http2.constants

/**
 * Takes a client's GOAWAY (NO_ERROR) as what RFC 9113 §6.8 says it is — the client is done
 * opening streams — and ends the connection once the client's streams are answered, as Go's
 * HTTP/2 server does, without Node's graceful close.
 *
 * Node 20 closes the session gracefully on a client's GOAWAY, and two bugs on that path let one
 * packet from an unauthenticated caller stop the process, both found by fuzzing:
 * - a GOAWAY, a HEADERS opening a stream and a fixed-size frame of the wrong length (a PING of
 *   7 bytes, say): the graceful close completes on nghttp2's stack, which then fails
 *   `assert(iframe->state == NGHTTP2_IB_IGN_ALL)` and aborts (nghttp2/nghttp2#2509, in no Node 20);
 * - a GOAWAY and two HEADERS opening streams: Node refuses the streams of a closing session while
 *   nghttp2 is still parsing, and frees a stream it then uses (nodejs/node#64113), which corrupts
 *   the heap and aborts within a few hundred connections.
 * So the one `session.close()` Node makes right after emitting 'goaway' (onGoawayData in
 * lib/internal/http2/core.js) is skipped: the session never becomes a closing one.
 *
 * The session must still end: once a client's GOAWAY is in and no stream is open, nghttp2 wants
 * to read no more, so Node stops reading the socket and would never see the client's FIN — and a
 * client such as Node's own waits for the server to close before its close() completes. So when
 * no stream is left, the session is destroyed (GOAWAY, then the socket ended after what is
 * written) off nghttp2's stack, which is what the graceful close would have done.
 */
export function honourClientGoaway(session: Http2Session): void {
  let open = 0
  let goingAway = false
  const endIfDone = () => {
    if (goingAway && open === 0 && !session.destroyed) session.destroy()
  }
  const streamClosed = () => {
    // On Node's stack, maybe nghttp2's: the session is ended from the next turn.
    if (--open === 0 && goingAway) setImmediate(endIfDone)
  }
  session.on('stream', (stream: ServerHttp2Stream) => {
    open++
    stream.once('close', streamClosed)
  })
  session.on('goaway', (code: number) => {
    if (code !== NGHTTP2_NO_ERROR) return
    goingAway = true
    const own = session as { close?: Http2Session['close'] }
    own.close = () => {
      delete own.close
    }
    setImmediate(endIfDone)
  })
}
