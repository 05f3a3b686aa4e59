import http2, { type Http2Session } from 'node:http2'

const { NGHTTP2_NO_ERROR } = http2.constants

/**
 * Takes a client's GOAWAY (NO_ERROR) as what RFC 9113 §6.8 says it is — the client is done
 * opening streams — and not as a reason to close the session, as nginx takes it. The client's
 * requests in flight are answered as before; the session ends when the client closes the
 * connection, as it does after GOAWAY, or when it has been idle for the server's timeout.
 *
 * Node 20 closes the session gracefully on a client's GOAWAY instead, and two bugs on that path
 * let one packet from an unauthenticated caller stop the process, both found by fuzzing:
 * - a GOAWAY, a HEADERS opening a stream and a fixed-size frame of the wrong length (a PING of
 *   7 bytes, say): the graceful close completes on nghttp2's stack, which then fails
 *   `assert(iframe->state == NGHTTP2_IB_IGN_ALL)` and aborts (nghttp2/nghttp2#2509, in no Node 20);
 * - a GOAWAY and two HEADERS opening streams: Node refuses the streams of a closing session while
 *   nghttp2 is still parsing, and frees a stream it then uses (nodejs/node#64113), which corrupts
 *   the heap and aborts within a few hundred connections.
 * Neither path is reached while the session is not closing, and Postern never closes a server
 * session gracefully itself (it destroys them, or lets them time out).
 *
 * Node calls `session.close()` right after emitting 'goaway' (onGoawayData in
 * lib/internal/http2/core.js): that one call is skipped.
 */
export function ignoreClientGoaway(session: Http2Session): void {
  session.on('goaway', (code: number) => {
    if (code !== NGHTTP2_NO_ERROR) return
    const own = session as { close?: Http2Session['close'] }
    own.close = () => {
      delete own.close
    }
  })
}
