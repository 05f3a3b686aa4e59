import { randomUUID } from 'node:crypto'
import http2, { type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2'
import type { Logger } from '../../core/log.js'
import type { TrustedProxies } from '../../http/client-address.js'
import { dropBodyOnceAnswered, h2Headers, relayStream } from '../../http/http2/relay.js'
import { MAX_SENT_HEADER_BLOCK, type H2Sessions } from '../../http/http2/sessions.js'
import type { Metrics } from '../../observability/metrics.js'
import type { Access, RequestView } from '../gateway.js'
import { clientAddressChain, downstreamHeaders, privateToSharedCaches, upstreamHeaders, type UpstreamIdentity } from '../headers.js'
import type { Route } from '../routes.js'
import type { TunnelGrant } from '../tunnels.js'
import type { Upstreams } from '../forward.js'
import { isGrpc } from '../../http/http2/grpc-status.js'
import { sendH2Answer, sendH2Error } from './h2-responses.js'
import { relayToHttp1 } from './to-http1.js'
import { h2RequestView, type H2Request } from './request-view.js'
import { loggedTarget } from '../../http/logged-target.js'

const { NGHTTP2_FLAG_END_STREAM, NGHTTP2_CANCEL } = http2.constants

export interface H2GatewayDeps {
  /** The gateway's decision (DESIGN §4 steps 1–5), the one HTTP/1.1 requests get. */
  decideAccess(view: RequestView): Access | Promise<Access>
  /** Registers an open stream: `close` is called once its caller is no longer allowed (as for WebSockets); returns what to call when it ends. */
  trackStream(grant: TunnelGrant, close: () => void): () => void
  /** The identity the upstream learns of, with its signed assertion. */
  identityOf(access: Extract<Access, { ok: true }>): Promise<UpstreamIdentity | undefined>
  /** HTTP/1.1 upstreams (services without useHttp2). */
  upstreams: Upstreams
  /** HTTP/2 upstreams (services with useHttp2): one h2c session per origin. */
  h2Upstreams: H2Sessions
  metrics: Metrics
  proto: 'http' | 'https'
  trustedProxies: TrustedProxies
  issuer: string
  log: Logger
  accessLog: boolean
  /** The caller's address when the stream's peer is not the caller (nginx hands streams over a Unix socket); by default the peer's. */
  callerAddress?: (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => string | undefined
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

/**
 * The gateway for HTTP/2 streams: each stream is decided exactly as an HTTP/1.1 request (the
 * same route by `:authority`, token, IAM and header rules), then relayed to the upstream over
 * HTTP/2 when the service says its upstream speaks it (`useHttp2`), else over HTTP/1.1.
 */
export function createH2Gateway(deps: H2GatewayDeps) {
  return function onStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number, rawHeaders: string[]): void {
    const started = performance.now()
    const grpc = isGrpc(headers['content-type'])
    const answerTo = { grpc, accept: headers.accept }
    const requestBody = (flags & NGHTTP2_FLAG_END_STREAM) === 0
    let access: Access | undefined
    stream.on('error', () => undefined)
    if (requestBody) dropBodyOnceAnswered(stream)
    stream.once('close', () => {
      const seconds = (performance.now() - started) / 1000
      deps.metrics.request(access?.route?.resource ?? '', access?.verdict ?? 'error', seconds)
      if (deps.accessLog) deps.log.log('info', 'request', { protocol: 'h2', method: headers[':method'], host: headers[':authority'], path: loggedTarget(String(headers[':path'] ?? '')), verdict: access?.verdict, service: access?.route?.resource, principal: access?.ok ? access.caller?.member : undefined, durationMs: Math.round(seconds * 1e4) / 10, rstCode: stream.rstCode })
    })
    const fail = (err: unknown) => {
      deps.log.log('error', 'gateway failed', { protocol: 'h2', err: String(err), stack: (err as Error).stack })
      sendH2Error(stream, answerTo, 'INTERNAL', 'Internal error.')
    }
    const view = h2RequestView(headers, rawHeaders)
    if ('problem' in view) {
      access = { ok: false, ...view.problem, verdict: 'bad_request' }
      sendH2Error(stream, answerTo, view.problem.status, view.problem.message)
      return
    }
    const respond = (decided: Access) => {
      access = decided
      if (!decided.ok) {
        if (decided.answer && !grpc) sendH2Answer(stream, decided.answer)
        else sendH2Error(stream, answerTo, decided.status, decided.message, decided.headers)
        // (A body still coming is read and dropped once the answer is written: dropBodyOnceAnswered.)
        return
      }
      const forward = (identity: UpstreamIdentity | undefined) => {
        if (stream.closed) return
        // A gRPC stream may stay open for hours after the one decision that let it in: like a
        // WebSocket, it is reset within a second of its caller losing access.
        const forget = deps.trackStream({ host: view.host, serviceUid: decided.route.service.uid, claims: decided.caller?.claims, session: decided.session }, () => {
          if (!stream.closed) stream.close(NGHTTP2_CANCEL)
        })
        stream.once('close', forget)
        const requestId = typeof headers['x-request-id'] === 'string' && REQUEST_ID.test(headers['x-request-id']) ? headers['x-request-id'] : randomUUID()
        const upstream = upstreamHeaders(view.rawHeaders, NO_NOMINATED, {
          host: decided.route.publicHost,
          forwardedFor: clientAddressChain(deps.callerAddress ? deps.callerAddress(stream, headers) : stream.session?.socket?.remoteAddress, view.rawHeaders, deps.trustedProxies),
          proto: deps.proto,
          requestId,
          issuer: deps.issuer,
          identity,
        })
        const privately = decided.caller !== undefined
        if (decided.route.service.useHttp2) toHttp2(stream, view, decided.route, upstream, requestBody, grpc, privately)
        else relayToHttp1(stream, deps.upstreams, { method: view.method, path: decided.route.upstream.basePath + view.path, headers: upstream, requestBody, route: decided.route, answerTo, privately })
      }
      if (!decided.caller) forward(undefined)
      else deps.identityOf(decided).then(forward, fail)
    }
    try {
      const decided = deps.decideAccess(view)
      if (decided instanceof Promise) decided.then(respond, fail)
      else respond(decided)
    } catch (err) {
      fail(err)
    }
  }

  function toHttp2(stream: ServerHttp2Stream, view: H2Request, route: Route, upstream: string[], requestBody: boolean, grpc: boolean, privately: boolean): void {
    const target = new URL(route.upstream.origin)
    const outgoing = {
      ...h2Headers(upstream),
      // gRPC servers may insist on `te: trailers` (it tells them trailers will arrive): it travels when the client sent it.
      ...(view.trailers && { te: 'trailers' }),
      ':method': view.method,
      ':scheme': target.protocol.slice(0, -1),
      ':authority': target.host,
      ':path': route.upstream.basePath + view.path,
    }
    relayStream(stream, () => deps.h2Upstreams.request(route.upstream.origin, outgoing, { endStream: !requestBody }), {
      requestBody,
      timeoutMs: route.service.timeoutSeconds * 1000,
      hooks: {
        responseHeaders: (raw) => (privately ? privateToSharedCaches(downstreamHeaders(raw, route.redirects)) : downstreamHeaders(raw, route.redirects)),
        failed: (reason, err) =>
          reason === 'timeout'
            ? sendH2Error(stream, { grpc }, 'DEADLINE_EXCEEDED', `The upstream of ${route.resource} did not answer within ${route.service.timeoutSeconds} s.`)
            : reason === 'headers-too-large'
              ? sendH2Error(stream, { grpc }, 'REQUEST_HEADER_FIELDS_TOO_LARGE', headersTooLargeFor(route.resource))
              : sendH2Error(stream, { grpc }, 'BAD_GATEWAY', `The upstream of ${route.resource} is unreachable (${describe(err)}).`),
      },
    })
  }
}

/** HTTP/2 has no Connection header (nghttp2 refuses one), so nothing is ever nominated for removal. */
const NO_NOMINATED: ReadonlySet<string> = new Set()

/** Why a request was not sent to its service's HTTP/2 upstream: its headers make a block over MAX_SENT_HEADER_BLOCK. */
export function headersTooLargeFor(resource: string): string {
  return `The request headers are too large for the upstream of ${resource}, which speaks HTTP/2: at most ${MAX_SENT_HEADER_BLOCK / 1024} KB.`
}

export function describe(err: Error): string {
  const cause = err.cause as { code?: string } | undefined
  return cause?.code ?? (err as { code?: string }).code ?? err.name
}
