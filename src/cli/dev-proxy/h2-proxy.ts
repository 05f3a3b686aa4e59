import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2'
import http2 from 'node:http2'
import { encodeGrpcMessage, isGrpc } from '../../http/http2/grpc-status.js'
import { dropBodyOnceAnswered, h2Headers, relayStream } from '../../http/http2/relay.js'
import { MAX_SENT_HEADER_BLOCK, type H2Sessions } from '../../http/http2/sessions.js'
import type { TokenSource } from './token-source.js'

const { NGHTTP2_FLAG_END_STREAM } = http2.constants

/** Request headers that only mean something to one hop (and the ones the proxy sets itself). */
const NOT_FORWARDED = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host', 'expect', 'http2-settings'])

export interface H2ProxyOptions {
  serviceUrl: URL
  header: 'x-serverless-authorization' | 'authorization'
  tokens: TokenSource
  sessions: H2Sessions
  /** Why the proxy refuses a request (it names another host, comes from another site), or undefined. */
  refusal(headers: { host?: string; origin?: string | string[]; 'sec-fetch-site'?: string | string[] }): string | undefined
  /** A Location pointing at the service URL, pointed back at the proxy as `host` names it (the :authority the client used, checked by `refusal`). */
  rewriteLocation(value: string, host: string | undefined): string
}

/**
 * `postern services proxy` for HTTP/2 clients (h2c with prior knowledge: grpcurl -plaintext,
 * grpc-js with insecure credentials, curl --http2-prior-knowledge): each stream goes to the
 * service URL over one HTTP/2 session to the gateway, with the developer's current token — read
 * per stream, so calls keep working across renewals while open streams carry on — and streams,
 * trailers and resets relayed both ways.
 */
export function createH2Proxy(o: H2ProxyOptions) {
  return function onStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number, rawHeaders: string[]): void {
    stream.on('error', () => undefined)
    const requestBody = (flags & NGHTTP2_FLAG_END_STREAM) === 0
    if (requestBody) dropBodyOnceAnswered(stream)
    const grpc = isGrpc(headers['content-type'])
    const authority = String(headers[':authority'] ?? headers.host ?? '')
    const refused = o.refusal({ host: authority, origin: headers.origin, 'sec-fetch-site': headers['sec-fetch-site'] })
    if (refused) {
      refuse(stream, grpc, 403, 7, 'PERMISSION_DENIED', refused)
      return
    }
    const out: string[] = []
    for (let i = 0; i < rawHeaders.length; i += 2) {
      const name = rawHeaders[i]!
      if (name.startsWith(':') || NOT_FORWARDED.has(name) || name === o.header) continue
      out.push(name, rawHeaders[i + 1]!)
    }
    out.push(o.header, `Bearer ${o.tokens.current()}`)
    const outgoing = {
      ...h2Headers(out),
      ...(headers.te === 'trailers' && { te: 'trailers' }),
      ':method': String(headers[':method']),
      ':scheme': o.serviceUrl.protocol.slice(0, -1),
      ':authority': o.serviceUrl.host,
      ':path': String(headers[':path'] ?? '/'),
    }
    const unreachable = (err: Error) => refuse(stream, grpc, 502, 14, 'BAD_GATEWAY', `postern services proxy could not reach ${o.serviceUrl.origin}: ${(err.cause as Error | undefined)?.message ?? err.message}`)
    relayStream(stream, () => o.sessions.request(o.serviceUrl.origin, outgoing, { endStream: !requestBody }), {
      requestBody,
      timeoutMs: 0,
      hooks: {
        responseHeaders: (raw) => {
          const kept: string[] = []
          for (let i = 0; i < raw.length; i += 2) {
            const name = raw[i]!
            if (NOT_FORWARDED.has(name)) continue
            kept.push(name, name === 'location' ? o.rewriteLocation(raw[i + 1]!, authority) : raw[i + 1]!)
          }
          return kept
        },
        failed: (reason, err) =>
          reason === 'headers-too-large'
            ? refuse(stream, grpc, 431, 8, 'REQUEST_HEADER_FIELDS_TOO_LARGE', `The request headers are too large for postern services proxy to send on over HTTP/2: at most ${MAX_SENT_HEADER_BLOCK / 1024} KB.`)
            : unreachable(err),
      },
    })
  }
}

function refuse(stream: ServerHttp2Stream, grpc: boolean, code: number, grpcCode: number, status: string, message: string): void {
  if (stream.closed || stream.headersSent) return
  if (grpc) {
    stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(grpcCode), 'grpc-message': encodeGrpcMessage(message) }, { endStream: true })
    return
  }
  const body = JSON.stringify({ error: { code, status, message } })
  stream.respond({ ':status': code, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
  stream.end(body)
}
