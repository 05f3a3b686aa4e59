import http2, { type OutgoingHttpHeaders, type ServerHttp2Stream } from 'node:http2'
import { PassThrough } from 'node:stream'
import { errors as undiciErrors, type Dispatcher } from 'undici'
import { h2Headers } from '../../http/http2/relay.js'
import { mayResend } from '../../http/resend.js'
import { hasUnrelayableTransferCoding } from '../../http/transfer-coding.js'
import { MAX_STATUS } from '../../http/limits.js'
import { describeUpstreamFailure, UnrelayableStatus, UnrelayableTransferCoding, type Upstreams } from '../forward.js'
import { answerHeaders, downstreamHeaders, privateToSharedCaches } from '../headers.js'
import type { Route } from '../routes.js'
import { sendH2Error } from './h2-responses.js'

const { NGHTTP2_INTERNAL_ERROR } = http2.constants

export interface Http1Call {
  method: string
  path: string
  /** The upstream request headers (upstreamHeaders: identity added, token headers as HEADER_RULES.tokens says). */
  headers: string[]
  requestBody: boolean
  route: Route
  /** The answer is kept from shared caches (HEADER_RULES.cacheDecided): the caller was admitted. */
  privately: boolean
  answerTo: { grpc: boolean; accept?: string }
}

/**
 * An HTTP/2 client's stream to an HTTP/1.1 upstream (a service without useHttp2), through the
 * same keep-alive pool HTTP/1.1 callers use: the request body streamed up, the response written
 * into the stream with backpressure (a full stream pauses the upstream until the client's window
 * opens), chunked trailers relayed, the service's timeout to the response headers; a bodiless
 * request that met a kept-alive connection just as the upstream closed it is sent once more.
 */
export function relayToHttp1(stream: ServerHttp2Stream, upstreams: Upstreams, call: Http1Call): void {
  const { route, answerTo } = call
  const timeoutMs = route.service.timeoutSeconds * 1000
  let abort: ((err?: Error) => void) | undefined
  let resume: (() => void) | undefined
  let trailers: OutgoingHttpHeaders | undefined
  // Sent once more if a kept-alive connection closes before answering (http/resend.ts).
  let resendable = true
  stream.once('close', () => {
    if (!stream.writableFinished) abort?.(new undiciErrors.RequestAbortedError())
  })
  stream.on('wantTrailers', () => {
    // No trailers: an empty set ends the stream (node sends an empty DATA frame with END_STREAM);
    // close() here would wait for a 'finish' that waits for the trailers.
    stream.sendTrailers(trailers ?? {})
  })
  const handler: Dispatcher.DispatchHandler = {
    onConnect(a) {
      abort = a
      if (stream.closed) a(new undiciErrors.RequestAbortedError())
    },
    onHeaders(statusCode, raw, r) {
      if (statusCode < 200) return true
      if (statusCode > MAX_STATUS) {
        abort!(new UnrelayableStatus(statusCode))
        return false
      }
      const upstreamHeaders = raw.map((b) => b.toString('latin1'))
      if (statusCode !== 204 && statusCode !== 304 && hasUnrelayableTransferCoding(upstreamHeaders)) {
        abort!(new UnrelayableTransferCoding())
        return false
      }
      resume = r
      if (stream.closed) return false
      const answer = answerHeaders(statusCode, upstreamHeaders, route.redirects)
      const headers = call.privately ? privateToSharedCaches(answer) : answer
      stream.respond({ ...h2Headers(headers), ':status': statusCode }, { waitForTrailers: true })
      return true
    },
    onData(chunk) {
      if (stream.closed) return false
      if (stream.write(chunk)) return true
      stream.once('drain', () => resume?.())
      return false
    },
    onComplete(raw) {
      // Typed as strings; undici hands raw Buffers to handlers of this protocol.
      if (raw && raw.length > 0) trailers = h2Headers(downstreamHeaders(raw.map((b: string | Buffer) => (typeof b === 'string' ? b : b.toString('latin1')))))
      if (!stream.closed) stream.end()
    },
    onError(err) {
      if (stream.closed) return
      if (stream.headersSent) {
        stream.close(NGHTTP2_INTERNAL_ERROR)
        return
      }
      if (err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError || err instanceof undiciErrors.ConnectTimeoutError) {
        sendH2Error(stream, answerTo, 'DEADLINE_EXCEEDED', `The upstream of ${route.resource} did not answer within ${route.service.timeoutSeconds} s.`)
      } else if (resendable && mayResend(call.method, call.requestBody, err)) {
        resendable = false
        upstreams.resend(route.upstream.origin, options, handler)
      } else if (err instanceof undiciErrors.RequestAbortedError) {
        stream.close(http2.constants.NGHTTP2_CANCEL)
      } else {
        sendH2Error(stream, answerTo, 'BAD_GATEWAY', `The upstream of ${route.resource} is unreachable (${describeUpstreamFailure(err)}).`)
      }
    },
  }
  const options: Dispatcher.DispatchOptions = {
    path: call.path,
    method: call.method as Dispatcher.HttpMethod,
    headers: call.headers,
    // undici destroys a body stream once it has sent it, which would reset the client's stream
    // before the answer: it reads the body through a pipe of its own instead.
    body: call.requestBody ? stream.pipe(new PassThrough()) : null,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  }
  upstreams.pool(route.upstream.origin).dispatch(options, handler)
}
