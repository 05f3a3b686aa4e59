import { connect as netConnect, isIP } from 'node:net'
import type { Duplex } from 'node:stream'
import { connect as tlsConnect } from 'node:tls'
import http2, { type ClientHttp2Session, type ClientHttp2Stream, type OutgoingHttpHeaders, type SecureClientSessionOptions } from 'node:http2'
import { LIVENESS, SessionLiveness } from './liveness.js'
import { watchQuietSession } from './quiet-sessions.js'

/**
 * The largest header block a stream to an upstream may carry (node:http2's default, made
 * Postern's own). A larger one is never sent: node:http2 emits 'frameError' for its HEADERS
 * frame and closes the stream as refused (headersRefused below). Not more: an upstream on
 * nghttp2 takes nine frames of 16 KB at most for one header block and ends the whole session
 * past them, failing every other caller's stream on it.
 */
export const MAX_SENT_HEADER_BLOCK = 64 * 1024

const HEADERS_FRAME = 1
const { NGHTTP2_FRAME_SIZE_ERROR } = http2.constants

/**
 * Whether node:http2 refused to send `stream`'s headers for their size (MAX_SENT_HEADER_BLOCK):
 * the caller's request is too large for the hop, not refused by the upstream, though the stream
 * closes as REFUSED_STREAM. Read once the stream has failed.
 */
export function headersRefused(stream: ClientHttp2Stream): () => boolean {
  let refused = false
  // Only for their size: headers not sent because the session was going away (GOAWAY) also
  // get 'frameError', and that stream is the upstream's to refuse and may go again.
  stream.on('frameError', (type: number, code: number) => {
    if (type === HEADERS_FRAME && code === NGHTTP2_FRAME_SIZE_ERROR) refused = true
  })
  return () => refused
}

/**
 * One HTTP/2 client session per origin, shared by every stream to it (HTTP/2 multiplexes: one
 * connection carries them all). A session that ends — GOAWAY, an error, the peer closing, idle
 * too long, or gone silent (SessionLiveness) — is forgotten, and the next request opens a new one.
 */
export class H2Sessions {
  private readonly sessions = new Map<string, ClientHttp2Session>()
  private readonly liveness = new SessionLiveness()

  constructor(private readonly options: SecureClientSessionOptions & { idleMs?: number } = {}) {}

  private session(origin: string): ClientHttp2Session {
    const open = this.sessions.get(origin)
    if (open && !open.closed && !open.destroyed) return open
    const session = http2.connect(origin, { maxSendHeaderBlockLength: MAX_SENT_HEADER_BLOCK, ...this.options, createConnection: (url: URL) => this.connect(url) })
    // A failure reaches every stream of the session as its own error; the session's is not thrown.
    session.on('error', () => undefined)
    const forget = () => {
      if (this.sessions.get(origin) === session) this.sessions.delete(origin)
    }
    session.once('close', forget)
    session.once('goaway', forget)
    // An idle session is closed (its streams, if any, finish first) once it has shown it is
    // alive: one Node stopped serving in the middle of a response would wait for that stream for
    // ever, and so would its caller. Asked again at each quiet spell, as a closing session's
    // streams may go on long after.
    const idleMs = this.options.idleMs ?? 60_000
    watchQuietSession(session, { probeAfterMs: idleMs, answerMs: LIVENESS.answerMs, idleTimeoutMs: idleMs, onIdle: () => session.close(), whose: "the upstream's" })
    this.sessions.set(origin, session)
    return session
  }

  /**
   * The session's socket, with Nagle's algorithm off: small frames go out at once rather than
   * waiting for the peer's delayed ACK (bench:http2 measured streams to an h2c upstream stalling on it).
   */
  private connect(url: URL): Duplex {
    const port = Number(url.port) || (url.protocol === 'https:' ? 443 : 80)
    const host = url.hostname.replace(/^\[|\]$/g, '')
    const lookup = this.options.lookup
    const socket = url.protocol === 'https:'
      ? tlsConnect({ host, port, servername: isIP(host) ? undefined : host, ALPNProtocols: ['h2'], ...(lookup && { lookup }), ca: this.options.ca })
      : netConnect({ host, port, ...(lookup && { lookup }) })
    return socket.setNoDelay(true)
  }

  /** A new stream to `origin`; a session that was going away as it was picked is replaced once. */
  request(origin: string, headers: OutgoingHttpHeaders, options: { endStream: boolean }): ClientHttp2Stream {
    const open = (session: ClientHttp2Session) => {
      const stream = session.request(headers, options)
      this.liveness.watch(session, stream)
      return stream
    }
    try {
      return open(this.session(origin))
    } catch (err) {
      const code = (err as { code?: string }).code
      if (code !== 'ERR_HTTP2_GOAWAY_SESSION' && code !== 'ERR_HTTP2_INVALID_SESSION') throw err
      this.sessions.delete(origin)
      return open(this.session(origin))
    }
  }

  close(): void {
    for (const session of this.sessions.values()) session.destroy()
    this.sessions.clear()
  }
}
