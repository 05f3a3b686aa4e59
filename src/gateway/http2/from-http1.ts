import type { IncomingMessage, ServerResponse } from 'node:http'
import http2, { type ClientHttp2Stream } from 'node:http2'
import { flatHeaders, h2Headers } from '../../http/http2/relay.js'
import { MAX_RESENDS, SentBody } from '../../http/http2/sent-body.js'
import { headersRefused, type H2Sessions } from '../../http/http2/sessions.js'
import { downstreamHeaders, downstreamTrailers, privateToSharedCaches } from '../headers.js'
import { sendGatewayError } from '../responses.js'
import type { Route } from '../routes.js'
import { describe, headersTooLargeFor } from './h2-gateway.js'

const { NGHTTP2_NO_ERROR, NGHTTP2_CANCEL, NGHTTP2_REFUSED_STREAM } = http2.constants

/**
 * An HTTP/1.1 caller's request to an upstream that speaks HTTP/2 (a service with useHttp2, which
 * may speak nothing else: a gRPC server, a tonic or h2c-only server), sent as Cloud Run sends
 * every request to such a container: as one stream on the origin's h2c session. The answer
 * comes back as HTTP/1.1, its trailers as chunked trailers, with backpressure both ways; the
 * service's timeout bounds the wait for the response headers; and a stream the upstream refuses
 * is sent again (up to MAX_RESENDS times), with the body sent so far, as relayStream does for
 * HTTP/2 callers.
 */
export function forwardToHttp2(req: IncomingMessage, res: ServerResponse, sessions: H2Sessions, route: Route, headers: string[], hasBody: boolean, privately: boolean): void {
  const target = new URL(route.upstream.origin)
  const outgoing = {
    ...h2Headers(headers),
    // gRPC servers may insist on `te: trailers`: it travels when the caller said it takes them.
    ...(takesTrailers(req.headers.te) && { te: 'trailers' }),
    ':method': req.method ?? 'GET',
    ':scheme': target.protocol.slice(0, -1),
    ':authority': target.host,
    ':path': route.upstream.basePath + (req.url ?? '/'),
  }
  const sent = hasBody ? new SentBody(req) : undefined
  let up: ClientHttp2Stream | undefined
  let answered = false
  let settled = false
  let resends = 0
  const fail = (err: Error, timedOut = false) => {
    if (settled) return
    settled = true
    clearTimeout(timer)
    sent?.forget()
    // Nothing more of the upstream's reaches the caller (its answer may be the gateway's now).
    up?.unpipe(res)
    if (up && !up.closed) up.close(NGHTTP2_CANCEL)
    if (res.destroyed) return
    if (res.headersSent) res.destroy(err)
    else if (timedOut) sendGatewayError(res, req.headers.accept, 'DEADLINE_EXCEEDED', `The upstream of ${route.resource} did not answer within ${route.service.timeoutSeconds} s.`)
    else if (tooLarge()) sendGatewayError(res, req.headers.accept, 'REQUEST_HEADER_FIELDS_TOO_LARGE', headersTooLargeFor(route.resource))
    else sendGatewayError(res, req.headers.accept, 'BAD_GATEWAY', `The upstream of ${route.resource} is unreachable (${describe(err)}).`)
  }
  const timer = setTimeout(() => fail(new Error('no response in time'), true), route.service.timeoutSeconds * 1000)
  timer.unref()
  // The caller went away: the upstream's stream is cancelled.
  res.once('close', () => {
    clearTimeout(timer)
    sent?.forget()
    if (!res.writableFinished && up && !up.closed) up.close(NGHTTP2_CANCEL)
  })
  // Refused before any answer, with everything it was sent still at hand, for a caller still there: it may go again (RFC 9113 §8.7).
  let tooLarge = () => false
  const mayResend = (stream: ClientHttp2Stream) => resends < MAX_RESENDS && !tooLarge() && !answered && !settled && !res.destroyed && stream.rstCode === NGHTTP2_REFUSED_STREAM && (sent?.replayable ?? true)

  const start = () => {
    let stream: ClientHttp2Stream
    try {
      stream = sessions.request(route.upstream.origin, outgoing, { endStream: !hasBody })
    } catch (err) {
      fail(err as Error)
      return
    }
    up = stream
    tooLarge = headersRefused(stream)
    if (sent) {
      for (const chunk of sent.chunks) stream.write(chunk)
      if (req.readableEnded) stream.end()
      else req.pipe(stream)
    }
    stream.on('response', (h) => {
      answered = true
      sent?.forget()
      clearTimeout(timer)
      if (settled || res.destroyed) return
      const status = Number(h[':status'])
      const cleaned = downstreamHeaders(flatHeaders(h), route.redirects)
      const headers = privately ? privateToSharedCaches(cleaned) : cleaned
      // A 204, a 304 or the answer to a HEAD is whole with its head: the caller takes it so and
      // may send its next request on the connection, so it ends here, whether or not the
      // upstream's stream does (one that never ended held the connection, and the next request
      // waited behind it for ever).
      if (status === 204 || status === 304 || req.method === 'HEAD') {
        res.writeHead(status, headers).end()
        if (!stream.readableEnded) stream.close(NGHTTP2_CANCEL)
        return
      }
      // Held until the body's first bytes, its end, or the next turn of the event loop, as
      // forward.ts holds an HTTP/1.1 upstream's: a stream reset in the same read as its headers
      // still gets the caller the gateway's 502, not a connection closed without a status.
      const sendHead = () => {
        if (!res.headersSent && !settled) res.writeHead(status, headers)
      }
      stream.once('data', sendHead).once('end', sendHead).pipe(res)
      setImmediate(() => {
        if (!res.headersSent && !settled && !res.destroyed) res.writeHead(status, headers).flushHeaders()
      })
    })
    stream.on('trailers', (h) => {
      // Sent only if the answer is chunked (an HTTP/1.1 answer without Content-Length).
      if (!res.writableEnded) res.addTrailers(downstreamTrailers(flatHeaders(h)))
    })
    stream.on('error', (err) => {
      if (!mayResend(stream)) fail(err)
    })
    stream.once('close', () => {
      if (mayResend(stream)) {
        resends++
        req.unpipe(stream)
        start()
        return
      }
      if (!answered) fail(new Error('the upstream closed the stream without answering'))
      // Reset mid-answer: the caller's connection ends, so the answer is not taken as whole (or,
      // its head still held, the caller is answered 502).
      else if ((stream.rstCode ?? NGHTTP2_NO_ERROR) !== NGHTTP2_NO_ERROR && !res.writableEnded) fail(new Error(`the upstream reset the stream mid-answer (code ${stream.rstCode})`))
    })
  }
  start()
}

function takesTrailers(te: string | string[] | undefined): boolean {
  return [te ?? []].flat().some((v) => v.split(',').some((t) => t.trim().toLowerCase().startsWith('trailers')))
}
