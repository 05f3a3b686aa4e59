import type { Server as HttpServer } from 'node:http'
import http2, { type Http2Session, type IncomingHttpHeaders, type ServerHttp2Stream, type ServerOptions } from 'node:http2'
import type { Socket } from 'node:net'
import type { TLSSocket } from 'node:tls'
import { MAX_RELAYED_HEADER_BYTES } from '../limits.js'
import { honourClientGoaway } from './client-goaway.js'
import { routeByPreface } from './prior-knowledge.js'
import { CLIENT_QUIET, watchQuietSession } from './quiet-sessions.js'

export type StreamHandler = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number, rawHeaders: string[]) => void

/**
 * Limits of an HTTP/2 server, each the answer to a known way of making a server work for
 * nothing. The defaults of node:http2 already defend against rapid reset (CVE-2023-44487: a
 * client that resets streams faster than it may gets GOAWAY) and CONTINUATION floods
 * (CVE-2024-27983); these bound the rest and make the bounds Postern's own.
 */
export const H2_LIMITS = {
  /** Streams one connection may have open at once (RFC 9113 §6.5.2; 100 is the usual floor). */
  maxConcurrentStreams: 100,
  /** Decoded header list of one request, as the HTTP/1.1 side's --max-header-size (256 KB). */
  maxHeaderListSize: 256 * 1024,
  /** Header fields in one request, as the HTTP/1.1 side's MAX_HEADERS. */
  maxHeaderListPairs: 2_000,
  /** Streams refused (over the concurrency limit) before the session is ended. */
  maxSessionRejectedStreams: 100,
  /** Invalid frames before the session is ended. */
  maxSessionInvalidFrames: 100,
  /** Memory one session may hold in nghttp2's buffers, in MB. */
  maxSessionMemory: 10,
  /**
   * The largest header block an answer may be sent with: an upstream's head of the 64 KiB every
   * hop takes, and the fields Postern adds to it. Node's default (64 KiB) closed the stream with
   * FRAME_SIZE_ERROR instead, and the caller had no answer at all.
   */
  maxSendHeaderBlockLength: MAX_RELAYED_HEADER_BYTES,
} as const

export interface Http2Ingress {
  /** Ends every HTTP/2 session at once (the HTTP/1.1 server's closeAllConnections does the same for its own). */
  closeAll(): void
}

/**
 * Serves HTTP/2 on the port an HTTP/1.1 (or HTTPS) server listens on, beside HTTP/1.1, without
 * a second listener: under TLS, connections that chose `h2` by ALPN are taken by an HTTP/2
 * server; in cleartext, connections that open with the HTTP/2 preface (h2c with prior
 * knowledge). Everything else goes to the HTTP/1.1 server exactly as before, with its own
 * timeouts, limits and upgrade handling. The listening server keeps counting every connection
 * (`maxConnections`).
 */
export function serveHttp2Beside(
  server: HttpServer,
  o: { tls: boolean; onStream: StreamHandler; idleTimeoutMs: number; prefaceTimeoutMs: number; onSessionError?: (err: Error) => void; quiet?: Partial<typeof CLIENT_QUIET> },
): Http2Ingress {
  const options: ServerOptions = {
    maxHeaderListPairs: H2_LIMITS.maxHeaderListPairs,
    maxSessionRejectedStreams: H2_LIMITS.maxSessionRejectedStreams,
    maxSessionInvalidFrames: H2_LIMITS.maxSessionInvalidFrames,
    maxSessionMemory: H2_LIMITS.maxSessionMemory,
    maxSendHeaderBlockLength: H2_LIMITS.maxSendHeaderBlockLength,
    settings: { maxConcurrentStreams: H2_LIMITS.maxConcurrentStreams, maxHeaderListSize: H2_LIMITS.maxHeaderListSize },
  }
  // The cleartext HTTP/2 server runs sessions over any socket it is given, a TLS one included.
  const h2 = http2.createServer(options)
  const sessions = new Set<Http2Session>()
  h2.on('session', (session: Http2Session) => {
    honourClientGoaway(session)
    // An idle session is ended, as an idle HTTP/1.1 connection is (server.timeout); a dead one too.
    watchQuietSession(session, { ...CLIENT_QUIET, ...o.quiet, idleTimeoutMs: o.idleTimeoutMs })
    sessions.add(session)
    session.once('close', () => sessions.delete(session))
    session.on('error', (err) => o.onSessionError?.(err))
  })
  h2.on('stream', o.onStream)
  const toH2 = (socket: Socket) => h2.emit('connection', socket)

  const event = o.tls ? 'secureConnection' : 'connection'
  const h1Listeners = server.listeners(event) as ((socket: Socket) => void)[]
  server.removeAllListeners(event)
  const toH1 = (socket: Socket) => {
    for (const listener of h1Listeners) listener.call(server, socket)
  }
  if (o.tls) server.on(event, (socket: TLSSocket) => (socket.alpnProtocol === 'h2' ? toH2(socket) : toH1(socket)))
  else server.on(event, (socket: Socket) => routeByPreface(socket, { h1: toH1, h2: toH2 }, o.prefaceTimeoutMs))

  const closeAll = () => {
    for (const session of sessions) session.destroy()
    sessions.clear()
  }
  // Whoever closes the server's HTTP/1.1 connections closes its HTTP/2 sessions too, or
  // server.close() would wait for them.
  const closeHttp1 = server.closeAllConnections.bind(server)
  server.closeAllConnections = () => {
    closeHttp1()
    closeAll()
  }
  // And a graceful close (a stop's drain) closes them gracefully: GOAWAY, the open streams
  // finish, then the session ends (RFC 9113 §6.8), as nginx's graceful shutdown does.
  const closeIdleHttp1 = server.closeIdleConnections.bind(server)
  server.closeIdleConnections = () => {
    closeIdleHttp1()
    for (const session of sessions) if (!session.closed) session.close()
  }
  return { closeAll }
}
