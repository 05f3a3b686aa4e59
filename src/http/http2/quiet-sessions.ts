import type { Http2Session } from 'node:http2'
import { askAlive } from './liveness.js'

export const QUIET = {
  /** How long a client session may go without a frame before it is asked to prove it is alive. */
  probeAfterMs: 30_000,
  /**
   * How long it then has to acknowledge. Generous: a client that has stopped reading a response
   * for now acknowledges after whatever the kernel still holds for it (nginx's send_timeout, 60 s
   * in all, is the same allowance).
   */
  answerMs: 30_000,
}

/** A timeout this late after the last acknowledgement still counts as nothing but the probe having happened. */
const TIMER_SLACK_MS = 1_000

/**
 * Ends a client session that has been idle — no frame but this watch's own — for `idleTimeoutMs`
 * (0: never), or that Node has stopped serving without saying so.
 *
 * The second kind: when a client breaks the protocol (a DATA frame on stream 0, say), nghttp2
 * sends it GOAWAY and wants to read no more, so Node stops reading the socket. It never sees the
 * client's FIN, its open streams never close, and it tells JavaScript nothing. The connection
 * would be held until the idle timeout — 5 minutes on the gateway, for ever on `postern services
 * proxy` — for the price of one packet and a close.
 *
 * So a session quiet for `probeAfterMs` (Node's session timeout, which also waits while a write
 * is still draining) is asked to acknowledge an empty SETTINGS frame (askAlive), as every HTTP/2
 * peer must, and one that does not within `answerMs` is destroyed. Asking refreshes Node's timer,
 * so idleness is counted here: a quiet spell that only the probes interrupted goes on.
 */
export function watchQuietSession(session: Http2Session, idleTimeoutMs: number, o = QUIET): void {
  let quietSince = Date.now()
  let answeredAt = Number.NEGATIVE_INFINITY
  let probing = false
  const unresponsive = () => Object.assign(new Error(`the client's HTTP/2 connection did not answer within ${o.answerMs / 1000} s`), { code: 'ERR_HTTP2_SESSION_UNRESPONSIVE' })
  session.setTimeout(o.probeAfterMs)
  session.on('timeout', () => {
    if (probing || session.destroyed) return
    const now = Date.now()
    const lastFrame = now - o.probeAfterMs
    if (lastFrame > answeredAt + TIMER_SLACK_MS) quietSince = lastFrame
    if (idleTimeoutMs > 0 && now - quietSince >= idleTimeoutMs) {
      session.destroy()
      return
    }
    probing = true
    askAlive(session, o.answerMs, unresponsive, (answered) => {
      probing = false
      if (!answered) return
      answeredAt = Date.now()
      // Counted from now: a spell that ended while the answer was awaited was let pass.
      if (!session.destroyed) session.setTimeout(o.probeAfterMs)
    })
  })
}
