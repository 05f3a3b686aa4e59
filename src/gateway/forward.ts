import type { IncomingMessage, ServerResponse } from 'node:http'
import { Pool, errors as undiciErrors, type Dispatcher } from 'undici'
import { downstreamHeaders } from './headers.js'
import { sendGatewayError } from './responses.js'
import type { Route } from './routes.js'

/**
 * The upstream side: one keep-alive pool per upstream origin (undici), bodies streamed both ways,
 * the service's timeout to the response headers (504), unreachable → 502.
 */
export class Upstreams {
  private readonly pools = new Map<string, Pool>()

  private pool(origin: string): Pool {
    let pool = this.pools.get(origin)
    if (!pool) {
      pool = new Pool(origin, { connections: 256, pipelining: 1, keepAliveTimeout: 30_000, keepAliveMaxTimeout: 600_000, connect: { timeout: 10_000 } })
      this.pools.set(origin, pool)
    }
    return pool
  }

  /**
   * Sends the request upstream and streams the answer back. No AbortController: when the client
   * goes away, the response stream closes and undici aborts the upstream request itself (its
   * stream() watches the writable it was given), which saves an AbortSignal and its listeners on
   * every request.
   */
  forward(req: IncomingMessage, res: ServerResponse, route: Route, headers: string[]): void {
    const timeoutMs = route.service.timeoutSeconds * 1000
    const hasBody = req.headers['content-length'] !== undefined ? req.headers['content-length'] !== '0' : req.headers['transfer-encoding'] !== undefined
    const options: Dispatcher.RequestOptions = {
      path: route.upstream.basePath + (req.url ?? '/'),
      method: req.method as Dispatcher.HttpMethod,
      headers,
      body: hasBody ? req : null,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      responseHeaders: 'raw',
    }
    this.pool(route.upstream.origin)
      .stream(options, ({ statusCode, headers: raw }) => {
        res.writeHead(statusCode, downstreamHeaders(raw as unknown as string[]))
        return res
      })
      .catch((err: Error) => {
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
      })
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.close().catch(() => undefined)))
  }
}

function describe(err: Error): string {
  const code = (err as { code?: string }).code ?? (err.cause as { code?: string } | undefined)?.code
  return code ?? err.name
}
