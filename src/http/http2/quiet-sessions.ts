import type { Http2Session } from 'node:http2'
import { askAlive } from './liveness.js'

export interface QuietWatch {
  /** How long a session may go without a frame before it is asked to prove it is alive. */
  probeAfterMs: number
  /** How long it then has to acknowledge, before it is destroyed. */
  answerMs: number
  /** How long a session that answers may be idle — no frame but the probes' — before `onIdle` (0: for ever). */
  idleTimeoutMs: number
  /** Ends a session found idle and alive: destroy it, or close it and let its streams finish. */
  onIdle(session: Http2Session): void
  /** Whose connection it is, for the error ("the client's"). */
  whose: string
}

/** The watch on a caller's session: asked after 30 s of quiet, destroyed if idle for the timeout. */
export const CLIENT_QUIET = {
  probeAfterMs: 30_000,
  /**
   * Generous: a client that has stopped reading a response for now acknowledges after whatever
   * the kernel still holds for it (nginx's send_timeout, 60 s in all, is the same allowance).
   */
  answerMs: 30_000,
  onIdle: (session: Http2Session) => session.destroy(),
  whose: "the client's",
}

/** A timeout this late after the last acknowledgement still counts as nothing but the probe having happened. */
const TIMER_SLACK_MS = 1_000

/**
 * Ends a session that Node has stopped serving without saying so, or that has been idle for
 * `idleTimeoutMs`.
 *
 * When a peer breaks the protocol (a DATA frame on stream 0, say), nghttp2 sends it GOAWAY and
 * wants to read no more, so Node stops reading the socket. It never sees the peer's FIN, its open
 * streams never end, and it tells JavaScript nothing. A caller's connection would be held until
 * the idle timeout — 5 minutes on the gateway, for ever on `postern services proxy` — for the
 * price of one packet and a close; an upstream's, closed gracefully when idle, would wait for
 * its streams, and their callers with them, for ever.
 *
 * So at each quiet spell of `probeAfterMs` (Node's session timeout, which also waits while a write
 * is still draining) the session is asked to acknowledge an empty SETTINGS frame (askAlive), as
 * every HTTP/2 peer must: one that does not within `answerMs` is destroyed, and one that does and
 * has been idle long enough is handed to `onIdle`. Asking refreshes Node's timer, so idleness is
 * counted here: a quiet spell that only the probes interrupted goes on.
 */
export function watchQuietSession(session: Http2Session, o: QuietWatch): void {
  let quietSince = Date.now()
  let answeredAt = Number.NEGATIVE_INFINITY
  let probing = false
  session.setTimeout(o.probeAfterMs)
  session.on('timeout', () => {
    if (probing || session.destroyed) return
    const lastFrame = Date.now() - o.probeAfterMs
    if (lastFrame > answeredAt + TIMER_SLACK_MS) quietSince = lastFrame
    probing = true
    askAlive(session, o.answerMs, o.whose, (answered) => {
      probing = false
      if (!answered || session.destroyed) return
      answeredAt = Date.now()
      if (o.idleTimeoutMs > 0 && answeredAt - quietSince >= o.idleTimeoutMs) o.onIdle(session)
      // Counted from now, whatever was done: a spell that ended while the answer was awaited was let pass.
      if (!session.destroyed) session.setTimeout(o.probeAfterMs)
    })
  })
}
