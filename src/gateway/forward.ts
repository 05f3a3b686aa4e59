import type { IncomingMessage, ServerResponse } from 'node:http'
import { Client, Pool, errors as undiciErrors, type Dispatcher } from 'undici'
import { connectReadingEarlyAnswers } from '../http/early-answers.js'
import type { H2Sessions } from '../http/http2/sessions.js'
import { discardRestOfBody } from '../http/linger.js'
import { MAX_RESPONSE_HEADER_BYTES, MAX_STATUS, UPSTREAM_IDLE_SECONDS } from '../http/limits.js'
import { mayResend } from '../http/resend.js'
import { hasUnrelayableTransferCoding, UNRELAYABLE_TRANSFER_CODING } from '../http/transfer-coding.js'
import { mendUndiciParser } from '../http/undici-parser.js'
import { answerHeaders, downstreamTrailers, privateToSharedCaches } from './headers.js'
import { forwardToHttp2 } from './http2/from-http1.js'
import { sendGatewayError } from './responses.js'
import type { Route } from './routes.js'

const CONNECTION_OPTIONS = { connect: connectReadingEarlyAnswers({ timeout: 10_000 }), maxHeaderSize: MAX_RESPONSE_HEADER_BYTES }

/**
 * The upstream side: one keep-alive pool per upstream origin (undici), bodies streamed both ways,
 * the service's timeout to the response headers (504), unreachable → 502; a request that met a
 * kept-alive connection just as the upstream closed it is sent once more (http/resend.ts).
 */
export class Upstreams {
  private readonly pools = new Map<string, Pool>()

  /** `h2`: the h2c sessions to upstreams that speak HTTP/2 (useHttp2), shared with HTTP/2 callers. */
  constructor(private readonly h2: H2Sessions) {
    mendUndiciParser()
  }

  /** The keep-alive pool to one upstream origin (also used by HTTP/2 callers of HTTP/1.1 upstreams). */
  pool(origin: string): Pool {
    let pool = this.pools.get(origin)
    if (!pool) {
      pool = new Pool(origin, { ...CONNECTION_OPTIONS, connections: 256, pipelining: 1, keepAliveTimeout: UPSTREAM_IDLE_SECONDS * 1000, keepAliveMaxTimeout: 600_000 })
      this.pools.set(origin, pool)
    }
    return pool
  }

  /**
   * Sends a request once more after its kept-alive connection closed before answering
   * (http/resend.ts), on a connection of its own, closed after it: a second kept-alive one might be
   * closing just the same.
   */
  resend(origin: string, options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): void {
    const client = new Client(origin, { ...CONNECTION_OPTIONS, pipelining: 0 })
    client.dispatch(options, handler)
    client.close().catch(() => undefined)
  }

  /** `privately`: the answer is kept from shared caches (HEADER_RULES.cacheDecided): the caller was admitted. */
  forward(req: IncomingMessage, res: ServerResponse, route: Route, headers: string[], privately: boolean): void {
    const hasBody = req.headers['content-length'] !== undefined ? req.headers['content-length'] !== '0' : req.headers['transfer-encoding'] !== undefined
    if (route.service.useHttp2) return forwardToHttp2(req, res, this.h2, route, headers, hasBody, privately)
    const timeoutMs = route.service.timeoutSeconds * 1000
    const options: Dispatcher.DispatchOptions = {
      path: route.upstream.basePath + (req.url ?? '/'),
      method: req.method as Dispatcher.HttpMethod,
      headers,
      body: hasBody ? req : null,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    }
    const origin = route.upstream.origin
    const resend = hasBody ? undefined : () => this.resend(origin, options, relay)
    const relay = new ResponseRelay(req, res, route, privately, resend)
    this.pool(origin).dispatch(options, relay)
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.close().catch(() => undefined)))
  }
}

/**
 * Writes undici's response straight into Node's: raw headers to writeHead, each chunk to write,
 * with backpressure (returning false pauses the upstream until the client drains). This is the
 * hot path, so it uses the dispatcher's handler protocol directly rather than stream(): no
 * AbortSignal, no intermediate stream, no parsed header object per request (the bench measured
 * the difference). A client that goes away aborts the upstream request.
 */
class ResponseRelay {
  private abort: ((err?: Error) => void) | undefined
  private resume: (() => void) | undefined
  /** The upstream's status and headers until they are written (sendHead). */
  private head: { status: number; headers: string[] } | undefined

  constructor(
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly route: Route,
    private readonly privately: boolean,
    /** Dispatches the request again, with this relay: at most once (mayResend). */
    private resend: (() => void) | undefined,
  ) {
    res.once('close', () => {
      if (!res.writableFinished) this.abort?.(new undiciErrors.RequestAbortedError())
    })
  }

  onConnect(abort: (err?: Error) => void): void {
    this.abort = abort
    if (this.res.destroyed) abort(new undiciErrors.RequestAbortedError())
  }

  onHeaders(statusCode: number, raw: Buffer[], resume: () => void): boolean {
    // An interim answer (1xx) is dropped, the final one relayed: not every client reads past one
    // it did not ask for (undici closes on a 100, Python's http.client takes a 103 for the answer).
    // Node answers the client's own `Expect: 100-continue` itself.
    if (statusCode < 200) return true
    if (statusCode > MAX_STATUS) {
      this.abort!(new UnrelayableStatus(statusCode))
      return false
    }
    this.resume = resume
    const headers = new Array<string>(raw.length)
    for (let i = 0; i < raw.length; i++) headers[i] = raw[i]!.toString('latin1')
    // (A 204 or a 304 has no body to decode, as nginx reads it: http/transfer-coding.ts.)
    if (statusCode !== 204 && statusCode !== 304 && hasUnrelayableTransferCoding(headers)) {
      this.abort!(new UnrelayableTransferCoding())
      return false
    }
    // Held until the body's first bytes, its end, or the next turn of the event loop, whichever
    // comes first. Most answers arrive whole in one read, and go out in one write as before. An
    // event stream's headers go out on their own (Node's writeHead sends nothing until the first
    // write, so an EventSource would open only with the first event). And an answer that breaks
    // in the same read as its headers (a bad chunk) still gets the gateway's 502 rather than a
    // closed connection: undici reports the break when the upstream's socket has closed, in the
    // close phase of this turn, after its immediates; hence the second one.
    const answer = answerHeaders(statusCode, headers, this.route.redirects)
    this.head = { status: statusCode, headers: this.privately ? privateToSharedCaches(answer) : answer }
    setImmediate(() => {
      if (this.head) setImmediate(() => this.flushHead())
    })
    return true
  }

  onData(chunk: Buffer): boolean {
    this.sendHead()
    if (this.res.write(chunk)) return true
    this.res.once('drain', this.resume!)
    return false
  }

  // Typed as strings; undici hands raw Buffers to handlers of this protocol.
  onComplete(trailers?: (string | Buffer)[] | null): void {
    if (!this.req.complete) discardRestOfBody(this.req, this.req.socket)
    this.sendHead()
    if (trailers && trailers.length > 0) this.addTrailers(trailers)
    this.res.end()
  }

  /** The upstream's chunked trailers, as from-http1.ts relays an HTTP/2 upstream's. */
  private addTrailers(raw: (string | Buffer)[]): void {
    try {
      this.res.addTrailers(downstreamTrailers(raw.map((b) => (typeof b === 'string' ? b : b.toString('latin1')))))
    } catch {
      // A trailer Node will not write (a character it refuses) is left out, never the answer's end.
    }
  }

  private sendHead(): void {
    const head = this.head
    if (!head) return
    this.head = undefined
    this.res.writeHead(head.status, head.headers)
  }

  private flushHead(): void {
    if (!this.head || this.res.destroyed) return
    this.sendHead()
    this.res.flushHeaders()
  }

  onError(err: Error): void {
    const { req, res, route } = this
    // A 304 or 204 whose Content-Length names the representation's size (RFC 9110 §8.6 allows it
    // on a 304) has, by definition, no body: undici counts the missing bytes as an error; it is
    // relayed as the whole answer it is, as nginx relays it.
    if (this.head && (this.head.status === 304 || this.head.status === 204) && err instanceof undiciErrors.ResponseContentLengthMismatchError) return this.onComplete()
    const answered = this.head !== undefined
    this.head = undefined
    if (res.destroyed) return
    if (res.headersSent) {
      // An HTTP/1.0 caller has no chunked framing whose missing end tells it the answer broke: it
      // reads until the connection closes, and a close like any other would pass a cut answer for
      // a whole one. Reset instead (RST), which it reads as an error. (The nginx plane cannot: README.)
      if (req.httpVersionMajor === 1 && req.httpVersionMinor === 0 && res.socket) {
        res.socket.resetAndDestroy()
        return
      }
      res.destroy(err)
      return
    }
    const resend = this.resend
    this.resend = undefined
    // Only a bodiless request is given a resend, and only one the upstream has not begun to answer.
    if (resend && !answered && mayResend(req.method!, false, err)) return resend()
    const accept = req.headers.accept
    if (err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError || err instanceof undiciErrors.ConnectTimeoutError) {
      sendGatewayError(res, accept, 'DEADLINE_EXCEEDED', `The upstream of ${route.resource} did not answer within ${route.service.timeoutSeconds} s.`)
    } else if (err instanceof undiciErrors.RequestContentLengthMismatchError) {
      sendGatewayError(res, accept, 'INVALID_ARGUMENT', 'The request body does not match its Content-Length.')
    } else {
      sendGatewayError(res, accept, 'BAD_GATEWAY', `The upstream of ${route.resource} is unreachable (${describeUpstreamFailure(err)}).`)
    }
  }
}

/** An upstream's answer with a status code past 599 (limits.ts MAX_STATUS): not relayed. */
export class UnrelayableStatus extends Error {
  constructor(status: number) {
    super(`it answered with status ${status}`)
  }
}

/** An upstream's answer with a transfer coding other than chunked (http/transfer-coding.ts): not relayed. */
export class UnrelayableTransferCoding extends Error {
  constructor() {
    super(UNRELAYABLE_TRANSFER_CODING)
  }
}

/** Why an upstream could not be relayed, in the words every plane and protocol answers with. */
export function describeUpstreamFailure(err: Error): string {
  if (err instanceof UnrelayableStatus || err instanceof UnrelayableTransferCoding) return err.message
  // undici says what broke only in the message, after llhttp's fixed reason strings:
  // "Response does not match the HTTP/1.1 protocol (Invalid character in chunk size)".
  if (err instanceof undiciErrors.HTTPParserError) {
    const reason = /\(([^()]+)\)$/.exec(err.message)?.[1]
    if (reason) return `its answer broke HTTP/1.1: ${reason.toLowerCase()}`
  }
  const code = (err as { code?: string }).code ?? (err.cause as { code?: string } | undefined)?.code
  return (code && ANSWER_FAULTS[code]) ?? code ?? err.name
}

/**
 * undici's codes for an answer it read and could not take, in words: the upstream was reached,
 * and a code such as UND_ERR_RES_CONTENT_LENGTH_MISMATCH says nothing to whoever reads the 502.
 * (ERR_ASSERTION is undici's parser meeting a status line it cannot hold: below 100, or a 101
 * with no upgrade asked for.)
 */
const ANSWER_FAULTS: Record<string, string> = {
  UND_ERR_RES_CONTENT_LENGTH_MISMATCH: 'its answer broke HTTP/1.1: its Content-Length is not one length, or not its body’s',
  UND_ERR_HEADERS_OVERFLOW: 'its answer’s headers are larger than the gateway takes',
  ERR_ASSERTION: 'its answer broke HTTP/1.1: a status line the gateway cannot relay',
}
