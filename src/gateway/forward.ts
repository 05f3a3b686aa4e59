import type { IncomingMessage, ServerResponse } from 'node:http'
import { Pool, errors as undiciErrors, type Dispatcher } from 'undici'
import { MAX_RESPONSE_HEADER_BYTES } from '../http/limits.js'
import { downstreamHeaders } from './headers.js'
import { sendGatewayError } from './responses.js'
import type { Route } from './routes.js'

/**
 * The upstream side: one keep-alive pool per upstream origin (undici), bodies streamed both ways,
 * the service's timeout to the response headers (504), unreachable → 502.
 */
export class Upstreams {
  private readonly pools = new Map<string, Pool>()

  /** The keep-alive pool to one upstream origin (also used by HTTP/2 callers of HTTP/1.1 upstreams). */
  pool(origin: string): Pool {
    let pool = this.pools.get(origin)
    if (!pool) {
      pool = new Pool(origin, { connections: 256, pipelining: 1, keepAliveTimeout: 30_000, keepAliveMaxTimeout: 600_000, connect: { timeout: 10_000 }, maxHeaderSize: MAX_RESPONSE_HEADER_BYTES })
      this.pools.set(origin, pool)
    }
    return pool
  }

  forward(req: IncomingMessage, res: ServerResponse, route: Route, headers: string[]): void {
    const timeoutMs = route.service.timeoutSeconds * 1000
    const hasBody = req.headers['content-length'] !== undefined ? req.headers['content-length'] !== '0' : req.headers['transfer-encoding'] !== undefined
    const options: Dispatcher.DispatchOptions = {
      path: route.upstream.basePath + (req.url ?? '/'),
      method: req.method as Dispatcher.HttpMethod,
      headers,
      body: hasBody ? req : null,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    }
    this.pool(route.upstream.origin).dispatch(options, new ResponseRelay(req, res, route))
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

  constructor(
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly route: Route,
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
    if (statusCode < 200) return true // 1xx: Node answers 100-continue to the client itself
    this.resume = resume
    const headers = new Array<string>(raw.length)
    for (let i = 0; i < raw.length; i++) headers[i] = raw[i]!.toString('latin1')
    this.res.writeHead(statusCode, downstreamHeaders(headers))
    return true
  }

  onData(chunk: Buffer): boolean {
    if (this.res.write(chunk)) return true
    this.res.once('drain', this.resume!)
    return false
  }

  onComplete(): void {
    this.res.end()
  }

  onError(err: Error): void {
    const { req, res, route } = this
    if (res.destroyed) return
    if (res.headersSent) {
      res.destroy(err)
      return
    }
    const accept = req.headers.accept
    if (err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError || err instanceof undiciErrors.ConnectTimeoutError) {
      sendGatewayError(res, accept, 'DEADLINE_EXCEEDED', `The upstream of ${route.resource} did not answer within ${route.service.timeoutSeconds} s.`)
    } else if (err instanceof undiciErrors.RequestContentLengthMismatchError) {
      sendGatewayError(res, accept, 'INVALID_ARGUMENT', 'The request body does not match its Content-Length.')
    } else {
      sendGatewayError(res, accept, 'BAD_GATEWAY', `The upstream of ${route.resource} is unreachable (${describe(err)}).`)
    }
  }
}

function describe(err: Error): string {
  const code = (err as { code?: string }).code ?? (err.cause as { code?: string } | undefined)?.code
  return code ?? err.name
}
