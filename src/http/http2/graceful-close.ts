import type { Http2Session } from 'node:http2'

interface NativeSession {
  ongracefulclosecomplete?: () => void
}

/**
 * Keeps a client from aborting the process with four HTTP/2 frames in one packet: a GOAWAY
 * (NO_ERROR), a HEADERS opening a stream, and a fixed-size frame of the wrong length (a PING of
 * 7 bytes, say), on Node 20.20 and its bundled nghttp2 1.61.
 *
 * The GOAWAY makes Node close the session gracefully. The stream opened after it is refused, and
 * once the session has no stream left Node's native session calls `ongracefulclosecomplete`,
 * which destroys the session — synchronously, while nghttp2 is still parsing the packet. Destroying
 * terminates the nghttp2 session once; when the malformed frame then asks nghttp2 to terminate it
 * again, nghttp2 does nothing and fails `assert(iframe->state == NGHTTP2_IB_IGN_ALL)`, which
 * aborts the process (fixed in nghttp2 by nghttp2/nghttp2#2509, not in any Node 20).
 *
 * Node itself defers a stream's own destruction with setImmediate "so we don't do it on the
 * nghttp2 stack"; this does the same for the session's. The hook is Node's internal, so it is
 * looked up and left alone where it is not there.
 */
export function deferGracefulCloseCompletion(session: Http2Session): void {
  const handleKey = Object.getOwnPropertySymbols(session).find((key) => key.description === 'kHandle')
  const handle = handleKey && ((session as unknown as Record<symbol, unknown>)[handleKey] as NativeSession | undefined)
  const complete = handle?.ongracefulclosecomplete
  if (!handle || typeof complete !== 'function') return
  handle.ongracefulclosecomplete = () => setImmediate(complete)
}
