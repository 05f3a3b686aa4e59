import type { IncomingMessage } from 'node:http'
import { connect as netConnect, type Socket } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import type { Duplex } from 'node:stream'
import { PosternError, errorBody, type ErrorStatus } from '../core/errors.js'
import type { Logger } from '../core/log.js'
import { spliceUpgrade } from '../http/splice.js'
import type { Route } from './routes.js'

/**
 * WebSocket upgrades after the same checks as any request (DESIGN §4 step 6): the handshake goes
 * to the upstream with the same header hygiene, then bytes flow both ways untouched until either
 * side closes. A token that expires later does not cut an open socket (as for any proxied stream).
 */
export function forwardUpgrade(req: IncomingMessage, client: Duplex, head: Buffer, route: Route, headers: string[], log: Logger): void {
  const target = new URL(route.upstream.origin)
  const port = Number(target.port || (target.protocol === 'https:' ? 443 : 80))
  const upstream: Socket =
    target.protocol === 'https:' ? tlsConnect({ host: target.hostname, port, servername: target.hostname }) : netConnect({ host: target.hostname, port })
  upstream.setTimeout(10_000, () => upstream.destroy(new Error('connect timeout')))
  const fail = (err: Error) => {
    log.log('warn', 'websocket upstream failed', { service: route.resource, err: err.message })
    if (!client.destroyed && client.writable && !started) rejectUpgrade(client, 'BAD_GATEWAY', `The upstream of ${route.resource} is unreachable.`)
    else client.destroy()
  }
  let started = false
  upstream.once('error', fail)
  upstream.once(target.protocol === 'https:' ? 'secureConnect' : 'connect', () => {
    upstream.setTimeout(0)
    started = true
    upstream.off('error', fail)
    const handshake = ['host', target.host, 'connection', 'Upgrade', 'upgrade', String(req.headers.upgrade), ...headers]
    spliceUpgrade(client, upstream, `${req.method} ${route.upstream.basePath}${req.url} HTTP/1.1`, handshake, head)
  })
}

export function rejectUpgrade(socket: Duplex, status: ErrorStatus, message: string, headers: Record<string, string> = {}): void {
  const err = new PosternError(status, message)
  const body = JSON.stringify(errorBody(err))
  const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')
  socket.end(`HTTP/1.1 ${err.httpCode} ${status}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n${extra}\r\n${body}`)
}
