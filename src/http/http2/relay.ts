import http2, { type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders, type ServerHttp2Stream } from 'node:http2'
import { MAX_RESENDS, SentBody } from './sent-body.js'
import { headersRefused } from './sessions.js'

const { NGHTTP2_NO_ERROR, NGHTTP2_CANCEL, NGHTTP2_INTERNAL_ERROR, NGHTTP2_REFUSED_STREAM, NGHTTP2_FLAG_END_STREAM } = http2.constants

/** A flat `[name, value, …]` header list as HTTP/2 headers: names lowercased, repeated names as arrays. */
export function h2Headers(raw: readonly string[]): OutgoingHttpHeaders {
  const out: Record<string, string | string[]> = {}
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase()
    const value = raw[i + 1]!
    const had = out[name]
    out[name] = had === undefined ? value : Array.isArray(had) ? [...had, value] : [had, value]
  }
  return out
}

/** HTTP/2 headers as received, without pseudo-headers, as a flat `[name, value, …]` list. */
export function flatHeaders(headers: IncomingHttpHeaders): string[] {
  const out: string[] = []
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith(':') || value === undefined) continue
    if (Array.isArray(value)) for (const v of value) out.push(name, v)
    else out.push(name, String(value))
  }
  return out
}

/**
 * Once a stream's answer is complete, the rest of its request body (an upstream answered without
 * waiting for it) is read and dropped, as Node's HTTP/1.1 server drops it: else nothing reads it
 * any more, no WINDOW_UPDATE goes out, and the client waits for ever to finish sending.
 */
export function dropBodyOnceAnswered(stream: ServerHttp2Stream): void {
  stream.once('finish', () => {
    if (stream.readableEnded) return
    stream.unpipe()
    stream.resume()
  })
}

export type RelayFailure = 'unreachable' | 'timeout' | 'headers-too-large'

export interface RelayHooks {
  /** The upstream's response (or trailer) headers, flat and without pseudo-headers → what the client is sent. */
  responseHeaders(raw: string[]): string[]
  /** Nothing was answered: the upstream could not be reached, reset the stream first, or was too slow, or the request's headers were too large to send (MAX_SENT_HEADER_BLOCK). The client's stream is still open. */
  failed(reason: RelayFailure, err: Error): void
}

/**
 * Relays one HTTP/2 stream to another: the request body (if any) up, the response down, both
 * piped so that HTTP/2 flow control holds each side to the pace of the other; trailers relayed
 * (gRPC's status lives in them), a trailers-only answer kept trailers-only (gRPC clients read the
 * status from headers that end the stream), and a reset on either side reset on the other.
 * `open` starts the upstream stream: again, up to MAX_RESENDS times, when the upstream refuses it
 * unanswered (REFUSED_STREAM: it processed none of it, RFC 9113 §8.7 — every stream a server's
 * GOAWAY leaves out gets it), with the body sent so far (kept up to REPLAY_LIMIT bytes).
 * `timeoutMs` bounds the wait for the response headers (0: no bound).
 */
export function relayStream(down: ServerHttp2Stream, open: () => ClientHttp2Stream, o: { requestBody: boolean; timeoutMs: number; hooks: RelayHooks }): void {
  let up: ClientHttp2Stream | undefined
  let responded = false
  let settled = false
  let trailers: OutgoingHttpHeaders | undefined
  const sent = o.requestBody ? new SentBody(down) : undefined
  let resends = 0
  const fail = (reason: RelayFailure, err: Error) => {
    if (settled) return
    settled = true
    sent?.forget()
    if (up && !up.closed) up.close(NGHTTP2_CANCEL)
    if (!down.closed && !down.headersSent) o.hooks.failed(reason, err)
    else if (!down.closed) down.close(NGHTTP2_INTERNAL_ERROR)
  }
  // 0: no bound (the developer proxy leaves the bound to the gateway).
  const timer = o.timeoutMs > 0 ? setTimeout(() => fail('timeout', new Error(`no response within ${o.timeoutMs} ms`)), o.timeoutMs) : undefined
  timer?.unref()

  // The client went away or reset its stream: the upstream's is cancelled (with the client's code when it gave one).
  down.once('close', () => {
    clearTimeout(timer)
    sent?.forget()
    if (up && !up.closed) up.close(down.rstCode !== undefined && down.rstCode !== NGHTTP2_NO_ERROR ? down.rstCode : NGHTTP2_CANCEL)
  })
  down.on('wantTrailers', () => {
    settled = true
    // No trailers: an empty set ends the stream (node sends an empty DATA frame with END_STREAM);
    // close() here would wait for a 'finish' that waits for the trailers.
    down.sendTrailers(trailers ?? {})
  })
  // Refused before any answer, with everything it was sent still at hand, for a client still there: it may go again.
  let tooLarge = () => false
  const mayResend = (stream: ClientHttp2Stream) => resends < MAX_RESENDS && !tooLarge() && !responded && !settled && !down.closed && stream.rstCode === NGHTTP2_REFUSED_STREAM && (sent?.replayable ?? true)

  const start = () => {
    let stream: ClientHttp2Stream
    try {
      stream = open()
    } catch (err) {
      fail('unreachable', err as Error)
      return
    }
    up = stream
    tooLarge = headersRefused(stream)
    if (sent) {
      for (const chunk of sent.chunks) stream.write(chunk)
      if (down.readableEnded) stream.end()
      else down.pipe(stream)
    }
    stream.on('response', (headers, flags) => {
      responded = true
      sent?.forget()
      clearTimeout(timer)
      if (down.closed || settled) return
      const endStream = (flags & NGHTTP2_FLAG_END_STREAM) !== 0
      const out = { ...h2Headers(o.hooks.responseHeaders(flatHeaders(headers))), ':status': headers[':status'] ?? 502 }
      if (endStream) {
        settled = true
        down.respond(out, { endStream: true })
        stream.resume()
        return
      }
      down.respond(out, { waitForTrailers: true })
      stream.pipe(down)
    })
    stream.on('trailers', (headers) => {
      trailers = h2Headers(o.hooks.responseHeaders(flatHeaders(headers)))
    })
    stream.on('error', (err) => {
      if (!mayResend(stream)) fail(tooLarge() ? 'headers-too-large' : 'unreachable', err)
    })
    stream.once('close', () => {
      if (mayResend(stream)) {
        resends++
        down.unpipe(stream)
        start()
        return
      }
      clearTimeout(timer)
      if (settled || down.closed) return
      const code = stream.rstCode ?? NGHTTP2_NO_ERROR
      if (!responded) {
        // Reset before answering (a gRPC server's CANCEL): the client gets the same reset; a session that died gets an error answer.
        if (code !== NGHTTP2_NO_ERROR) {
          settled = true
          down.close(code)
        } else fail('unreachable', new Error('the upstream closed the stream without answering'))
      } else if (code !== NGHTTP2_NO_ERROR) {
        settled = true
        down.close(code)
      }
    })
  }
  start()
}
