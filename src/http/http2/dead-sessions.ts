import type { Http2Session } from 'node:http2'
import { askAlive } from './liveness.js'
import type { OpenStreams } from './open-streams.js'

export const SERVER_LIVENESS = {
  /** How often each client session without an open stream is asked to prove it is alive. */
  everyMs: 30_000,
  /**
   * How long it then has to acknowledge. Generous: the acknowledgement of a slow reader comes
   * after whatever the kernel still holds for it.
   */
  answerMs: 10_000,
}

/**
 * Ends the client sessions Node has stopped serving without saying so. When a client breaks the
 * protocol (a DATA frame on stream 0, say), nghttp2 sends it GOAWAY and wants to read no more,
 * so Node stops reading the socket: it never sees the client's FIN, and tells its JavaScript
 * nothing. The connection would be held until the idle timeout — 5 minutes on the gateway,
 * for ever on `postern services proxy` — for the price of one packet and a close.
 *
 * So every `everyMs`, each session without an open stream is asked to acknowledge an empty
 * SETTINGS frame (askAlive), as every HTTP/2 peer must; one that does not within `answerMs` is
 * destroyed. A session with streams open is left to its streams and the idle timeout.
 */
export function reapDeadSessions(sessions: ReadonlyMap<Http2Session, OpenStreams>, o = SERVER_LIVENESS): { stop(): void } {
  const probing = new WeakSet<Http2Session>()
  const unresponsive = () => Object.assign(new Error(`the client's HTTP/2 connection did not answer within ${o.answerMs / 1000} s`), { code: 'ERR_HTTP2_SESSION_UNRESPONSIVE' })
  const round = setInterval(() => {
    for (const [session, open] of sessions) {
      if (open.count > 0 || session.destroyed || probing.has(session)) continue
      probing.add(session)
      askAlive(session, o.answerMs, unresponsive, () => probing.delete(session))
    }
  }, o.everyMs)
  round.unref()
  return { stop: () => clearInterval(round) }
}
