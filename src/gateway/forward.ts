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

  forward(req: IncomingMessage, res: ServerResponse, route: Route, headers: string[]): void {
    const timeoutMs = route.service.timeoutSeconds * 1000
    const abort = new AbortController()
    const onClose = () => {
      if (!res.writableFinished) abort.abort()
    }
    res.once('close', onClose)
    const hasBody = req.headers['content-length'] !== undefined ? req.headers['content-length'] !== '0' : req.headers['transfer-encoding'] !== undefined
    const options: Dispatcher.RequestOptions = {
      path: route.upstream.basePath + (req.url ?? '/'),
      method: req.method as Dispatcher.HttpMethod,
      headers,
      body: hasBody ? req : null,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal: abort.signal,
    }
    this.pool(route.upstream.origin)
      .stream(options, ({ statusCode, headers: upstreamHeaders }) => {
        res.writeHead(statusCode, downstreamHeaders(upstreamHeaders as Record<string, string | string[]>))
        return res
      })
      .catch((err: Error) => {
        res.off('close', onClose)
        if (abort.signal.aborted) return
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
