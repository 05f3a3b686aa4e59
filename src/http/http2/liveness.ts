import type { ClientHttp2Session, ClientHttp2Stream, Http2Session } from 'node:http2'

export const LIVENESS = {
  /** How long a stream waits for its response before its session is asked to prove it is alive. */
  probeAfterMs: 2_000,
  /** How long the session then has to acknowledge, before it is taken for dead. */
  answerMs: 5_000,
}

/**
 * Finds the upstream sessions Node has stopped serving without saying so. When an upstream
 * breaks the protocol (a DATA frame on stream 0, say), nghttp2 sends it GOAWAY and stops
 * reading, and Node 20 tells its JavaScript nothing: no 'error', no 'close'. The session's
 * streams would wait out the service's timeout, and every request after them would be put on the
 * same dead session, for as long as requests keep coming.
 *
 * So a stream still waiting for its response after `probeAfterMs` has its session prove it is
 * alive (askAlive). A session that does not within `answerMs` is destroyed: its streams fail at
 * once, and the next request opens a new session. A session that answered anything in the last
 * `probeAfterMs` is not asked.
 */
export class SessionLiveness {
  private readonly aliveAt = new WeakMap<ClientHttp2Session, number>()
  private readonly probing = new WeakSet<ClientHttp2Session>()

  constructor(private readonly o = LIVENESS) {}

  watch(session: ClientHttp2Session, stream: ClientHttp2Stream): void {
    const timer = setTimeout(() => this.probe(session), this.o.probeAfterMs)
    timer.unref()
    stream.once('response', () => {
      clearTimeout(timer)
      this.aliveAt.set(session, Date.now())
    })
    stream.once('close', () => clearTimeout(timer))
  }

  private probe(session: ClientHttp2Session): void {
    if (session.destroyed || this.probing.has(session)) return
    if (Date.now() - (this.aliveAt.get(session) ?? 0) < this.o.probeAfterMs) return
    this.probing.add(session)
    askAlive(session, this.o.answerMs, "the upstream's", (answered) => {
      this.probing.delete(session)
      if (answered) this.aliveAt.set(session, Date.now())
    })
  }
}

/**
 * Has `session` acknowledge an empty SETTINGS frame, which changes nothing and, unlike a PING,
 * counts against no peer's ping policy (grpc-go ends a connection that pings more than twice in 5
 * minutes without traffic). A session that does not acknowledge within `answerMs` is destroyed
 * with ERR_HTTP2_SESSION_UNRESPONSIVE, which names `whose` connection it was ("the upstream's").
 * `settled` is called once, with whether it answered.
 */
export function askAlive(session: Http2Session, answerMs: number, whose: string, settled: (answered: boolean) => void): void {
  let over = false
  const done = (answered: boolean) => {
    if (over) return
    over = true
    clearTimeout(deadline)
    settled(answered)
  }
  const deadline = setTimeout(() => {
    done(false)
    session.destroy(Object.assign(new Error(`${whose} HTTP/2 connection did not answer within ${answerMs / 1000} s`), { code: 'ERR_HTTP2_SESSION_UNRESPONSIVE' }))
  }, answerMs)
  deadline.unref()
  try {
    session.settings({}, (err) => done(!err))
  } catch {
    // Closed or destroyed meanwhile: its streams are told by Node.
    done(false)
  }
}
