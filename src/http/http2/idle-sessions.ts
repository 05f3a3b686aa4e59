import type { Http2Session } from 'node:http2'
import { askAlive } from './liveness.js'
import type { OpenStreams } from './open-streams.js'

export const SERVER_LIVENESS = {
  /** How often each client session without an open stream is looked at. */
  everyMs: 30_000,
  /**
   * How long it has to acknowledge, when asked. Generous: the acknowledgement of a slow reader
   * comes after whatever the kernel still holds for it.
   */
  answerMs: 10_000,
}

/**
 * Ends client sessions without an open stream that have been idle for `idleTimeoutMs` (0: never),
 * or that Node has stopped serving without saying so.
 *
 * The second kind: when a client breaks the protocol (a DATA frame on stream 0, say), nghttp2
 * sends it GOAWAY and wants to read no more, so Node stops reading the socket: it never sees the
 * client's FIN, and tells its JavaScript nothing. The connection would be held until the idle
 * timeout — 5 minutes on the gateway, for ever on `postern services proxy` — for the price of
 * one packet and a close. So every `everyMs` each such session is asked to acknowledge an empty
 * SETTINGS frame (askAlive), as every HTTP/2 peer must; one that does not within `answerMs` is
 * destroyed.
 *
 * Asking refreshes Node's own idle timer, which would then never fire on a session that answers:
 * so the idle timeout of sessions without streams is kept here, counted from their last stream's
 * end (as nginx counts keepalive_timeout), and Node's timer is left to sessions with streams open.
 */
export function reapIdleSessions(sessions: ReadonlyMap<Http2Session, OpenStreams>, idleTimeoutMs: number, o = SERVER_LIVENESS): { stop(): void } {
  const probing = new WeakSet<Http2Session>()
  const unresponsive = () => Object.assign(new Error(`the client's HTTP/2 connection did not answer within ${o.answerMs / 1000} s`), { code: 'ERR_HTTP2_SESSION_UNRESPONSIVE' })
  const round = setInterval(() => {
    const now = Date.now()
    for (const [session, open] of sessions) {
      if (open.count > 0 || session.destroyed || probing.has(session)) continue
      if (idleTimeoutMs > 0 && now - open.idleSince >= idleTimeoutMs) {
        session.destroy()
        continue
      }
      probing.add(session)
      askAlive(session, o.answerMs, unresponsive, () => probing.delete(session))
    }
  }, o.everyMs)
  round.unref()
  return { stop: () => clearInterval(round) }
}
