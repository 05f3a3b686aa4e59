import { lookup as dnsLookup } from 'node:dns'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import { Agent, Client, errors as undiciErrors, type Dispatcher } from 'undici'
import { flushHeadSoon } from '../../http/flush-head.js'
import { HTTP09_REFUSED, isHttp09 } from '../../http/http09.js'
import { inTurn } from '../../http/in-turn.js'
import { serveHttp2Beside } from '../../http/http2/ingress.js'
import { H2Sessions } from '../../http/http2/sessions.js'
import { MAX_RELAYED_HEADER_BYTES } from '../../http/limits.js'
import { discardRestOfBody, lingerOnClose } from '../../http/linger.js'
import { redirectRewrite, rewrittenLocation } from '../../http/redirect-location.js'
import { mayResend } from '../../http/resend.js'
import { proxyUpgrade } from '../../http/splice.js'
import { mendUndiciParser } from '../../http/undici-parser.js'
import { createH2Proxy } from './h2-proxy.js'
import { localOriginRefusal } from './local-origin.js'
import type { TokenSource } from './token-source.js'

/**
 * `postern services proxy`: a local HTTP server that forwards to the service URL with the
 * developer's token attached (DESIGN §6). Plain requests go through an undici keep-alive agent;
 * WebSocket upgrades are piped after the handshake; HTTP/2 clients (h2c with prior knowledge, on
 * the same port) are relayed over HTTP/2 to the gateway (h2-proxy.ts).
 */
export interface DevProxyOptions {
  serviceUrl: URL
  host: string
  port: number
  header: 'x-serverless-authorization' | 'authorization'
  tokens: TokenSource
  log: (line: string) => void
  /** Host names accepted beside localhost, 127.0.0.1 and [::1] (`--accept-hosts`). */
  acceptHosts?: RegExp
  /** Origins whose pages may call the proxy from a browser (`--allow-origins`). */
  allowOrigins?: ReadonlySet<string>
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host', 'expect'])

/** `*.localhost` is loopback (RFC 6761); Node's resolver does not know it, so the proxy maps it (DESIGN §2). */
function lookup(hostname: string, options: { all?: boolean }, callback: (err: Error | null, address: unknown, family?: number) => void): void {
  if (hostname === 'localhost' || hostname.endsWith('.localhost')) {
    if (options.all) callback(null, [{ address: '127.0.0.1', family: 4 }])
    else callback(null, '127.0.0.1', 4)
    return
  }
  dnsLookup(hostname, options as never, callback as never)
}

/**
 * Whether a 401 is the gateway refusing the token the proxy sent (its challenge names realm
 * "postern" and invalid_token: signed by a key it no longer knows after a database was reset or
 * restored, say), not the app refusing its own Authorization.
 */
function refusedToken(challenge: string | string[] | undefined): boolean {
  const text = Array.isArray(challenge) ? challenge.join(', ') : (challenge ?? '')
  return text.includes('realm="postern"') && text.includes('invalid_token')
}

export async function startDevProxy(o: DevProxyOptions): Promise<{ server: Server; url: string; close(): Promise<void> }> {
  const connectionOptions = { connect: { lookup: lookup as never }, maxHeaderSize: MAX_RELAYED_HEADER_BYTES }
  mendUndiciParser()
  const agent = new Agent({ ...connectionOptions, keepAliveTimeout: 30_000, connections: 64 })
  // A request sent once more after its kept-alive connection closed before answering
  // (http/resend.ts) goes on a connection of its own, closed after it.
  const oneConnection = (): Dispatcher => {
    const client = new Client(o.serviceUrl.origin, { ...connectionOptions, pipelining: 0 })
    queueMicrotask(() => client.close().catch(() => undefined))
    return client
  }
  // The address to print and point redirects at when a request names none: listening on every
  // address (0.0.0.0, ::), the loopback one, which the proxy answers (0.0.0.0 is nowhere to go).
  const reachable = o.host === '0.0.0.0' ? '127.0.0.1' : o.host === '::' ? '::1' : o.host
  const local = () => `http://${reachable.includes(':') ? `[${reachable}]` : reachable}:${(server.address() as { port: number }).port}`

  const requestHeaders = (req: IncomingMessage, upgrade: boolean): string[] => {
    const out: string[] = []
    const nominated = new Set((req.headers.connection ?? '').split(',').map((s) => s.trim().toLowerCase()))
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const lower = req.rawHeaders[i]!.toLowerCase()
      if (HOP_BY_HOP.has(lower) || nominated.has(lower) || lower === o.header) continue
      out.push(req.rawHeaders[i]!, req.rawHeaders[i + 1]!)
    }
    out.push('host', o.serviceUrl.host, o.header, `Bearer ${o.tokens.current()}`)
    if (upgrade) out.push('connection', 'Upgrade', 'upgrade', String(req.headers.upgrade))
    return out
  }

  // A redirect to the service URL would leave the proxy; point it back at the address the client
  // used (its Host, which the proxy has checked names it: localhost is another site than
  // 127.0.0.1 to a browser, and 0.0.0.0 no address to go to), absolute or scheme-relative: the
  // rule the gateway points an upstream's own address at the service URL by.
  const rewriteLocation = (value: string | string[] | undefined, host: string | undefined): string | undefined => {
    if (typeof value !== 'string') return undefined
    return rewrittenLocation(value, redirectRewrite(o.serviceUrl, { scheme: 'http', host: host ?? new URL(local()).host })) ?? value
  }

  const refusal = (req: IncomingMessage) => localOriginRefusal(req.headers, { port: (server.address() as { port: number }).port, acceptHosts: o.acceptHosts, allowOrigins: o.allowOrigins })
  const forbidden = (message: string) => JSON.stringify({ error: { code: 403, status: 'PERMISSION_DENIED', message } })
  // A target the gateway is sent as it came: a path, or an absolute URL (the gateway refuses
  // one naming another host). Any other (`*`, `host:port`) is the caller's mistake, not the
  // gateway's being out of reach.
  const targetProblem = (url: string | undefined) =>
    url?.startsWith('/') || /^https?:\/\//i.test(url ?? '') ? undefined : JSON.stringify({ error: { code: 400, status: 'INVALID_ARGUMENT', message: `The request target must be a path; '${(url ?? '').slice(0, 100)}' is not.` } })
  /** The proxy's own answer to a request it does not pass on (plain or upgrade), or undefined. */
  const ownAnswer = (req: IncomingMessage): { status: 400 | 403; reason: string; body: string } | undefined => {
    if (isHttp09(req)) return { status: 400, reason: 'Bad Request', body: JSON.stringify({ error: { code: 400, status: 'INVALID_ARGUMENT', message: HTTP09_REFUSED } }) }
    const refused = refusal(req)
    if (refused) return { status: 403, reason: 'Forbidden', body: forbidden(refused) }
    const badTarget = targetProblem(req.url)
    return badTarget ? { status: 400, reason: 'Bad Request', body: badTarget } : undefined
  }

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const own = ownAnswer(req)
    if (own) {
      if (!req.complete) lingerOnClose(req.socket, req)
      res.writeHead(own.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(own.body), connection: 'close' })
      res.end(own.body)
      req.resume()
      return
    }
    const abort = new AbortController()
    res.once('close', () => {
      if (!res.writableFinished) abort.abort()
    })
    const hasBody = req.headers['content-length'] !== undefined ? req.headers['content-length'] !== '0' : req.headers['transfer-encoding'] !== undefined
    // The gateway may answer before it has read the body (a refusal, an upstream's early 413).
    const socket = req.socket
    if (hasBody) res.once('finish', () => req.complete || discardRestOfBody(req, socket))
    const options: Dispatcher.RequestOptions & { origin: string } = {
      origin: o.serviceUrl.origin,
      path: req.url ?? '/',
      method: req.method as Dispatcher.HttpMethod,
      headers: requestHeaders(req, false),
      body: hasBody ? req : null,
      headersTimeout: 0,
      bodyTimeout: 0,
      signal: abort.signal,
    }
    const send = (dispatcher: Dispatcher, resendable: boolean): void => {
      dispatcher
        .stream(options, ({ statusCode, headers }) => {
          if (statusCode === 401 && refusedToken(headers['www-authenticate'])) o.tokens.renewSoon()
          const out: Record<string, string | string[]> = {}
          for (const [name, value] of Object.entries(headers)) {
            if (value === undefined || HOP_BY_HOP.has(name)) continue
            out[name] = name === 'location' ? (rewriteLocation(value, req.headers.host) ?? (value as string)) : (value as string | string[])
          }
          res.writeHead(statusCode, out)
          flushHeadSoon(res)
          return res
        })
        .catch((err: Error) => {
          if (abort.signal.aborted) return
          if (res.headersSent) return void res.destroy(err)
          if (resendable && mayResend(options.method, hasBody, err)) return send(oneConnection(), false)
          const unreachable = !(err instanceof undiciErrors.RequestAbortedError)
          const body = JSON.stringify({ error: { code: 502, status: 'BAD_GATEWAY', message: `postern services proxy could not reach ${o.serviceUrl.origin}: ${(err.cause as Error | undefined)?.message ?? err.message}` } })
          res.writeHead(unreachable ? 502 : 500, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
          res.end(body)
        })
    }
    send(agent, true)
  }

  // Upgraded connections (WebSockets) leave the server's keeping: closing the proxy ends them itself.
  const upgraded = new Set<Duplex>()
  const onUpgrade = (req: IncomingMessage, client: Duplex, head: Buffer) => {
    // Node stops listening for the socket's errors once it hands over an upgrade (gateway.ts upgrade).
    client.on('error', () => client.destroy())
    upgraded.add(client)
    client.once('close', () => upgraded.delete(client))
    const own = ownAnswer(req)
    if (own) {
      client.end(`HTTP/1.1 ${own.status} ${own.reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(own.body)}\r\nconnection: close\r\n\r\n${own.body}`)
      return
    }
    proxyUpgrade(
      client,
      head,
      { origin: o.serviceUrl, method: req.method ?? 'GET', path: req.url ?? '/', headers: requestHeaders(req, true), timeoutMs: 30_000, lookup: lookup as never, maxHeaderBytes: MAX_RELAYED_HEADER_BYTES },
      {
        responseHeaders: (raw) => raw,
        unreachable: (err) => {
          const body = JSON.stringify({ error: { code: 502, status: 'BAD_GATEWAY', message: `postern services proxy could not reach ${o.serviceUrl.origin}: ${err.message}` } })
          client.end(`HTTP/1.1 502 Bad Gateway\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`)
        },
      },
    )
  }

  const server = createServer(onRequest)
  server.on('upgrade', inTurn(onUpgrade))
  // HTTP/2 clients: one session to the gateway (h2c, or h2 by ALPN for an https service URL).
  const sessions = new H2Sessions({ lookup: lookup as never, idleMs: 60_000 })
  const onStream = createH2Proxy({
    serviceUrl: o.serviceUrl,
    header: o.header,
    tokens: o.tokens,
    sessions,
    refusal: (headers) => localOriginRefusal(headers, { port: (server.address() as { port: number }).port, acceptHosts: o.acceptHosts, allowOrigins: o.allowOrigins }),
    rewriteLocation: (value, host) => rewriteLocation(value, host) ?? value,
  })
  serveHttp2Beside(server, { tls: false, onStream, idleTimeoutMs: 0, prefaceTimeoutMs: 30_000 })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(o.port, o.host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  return {
    server,
    url: local(),
    async close() {
      o.tokens.stop()
      for (const socket of upgraded) socket.destroy()
      await new Promise((r) => {
        server.close(r)
        server.closeAllConnections()
      })
      sessions.close()
      await agent.close()
    },
  }
}
