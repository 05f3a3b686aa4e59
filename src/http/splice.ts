import { request as httpRequest, type IncomingMessage } from 'node:http'
import { request as httpsRequest } from 'node:https'
import type { LookupFunction, Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { MAX_RESPONSE_HEADER_BYTES, MAX_STATUS } from './limits.js'

export interface UpgradeTarget {
  /** The upstream's origin (http: or https:). */
  origin: URL
  method: string
  path: string
  /** The full request header list, flat [name, value, …], Host, Connection and Upgrade included. */
  headers: string[]
  /** How long to wait for the upstream's answer (connect included). */
  timeoutMs: number
  lookup?: LookupFunction
  /** The most header bytes taken of its answer (default MAX_RESPONSE_HEADER_BYTES). */
  maxHeaderBytes?: number
}

export interface UpgradeHooks {
  /** The response headers (flat) the client may see, for an answer with `status` (101: the switch); hop-by-hop ones are the caller's to keep or drop. */
  responseHeaders: (raw: string[], status: number) => string[]
  /** Nothing was sent to the client yet: answer it (502/504) and close. */
  unreachable: (err: Error, timedOut: boolean) => void
  /** The tunnel is open; `close` tears both sides down (a later decision may revoke it). */
  spliced?: (close: () => void) => void
  /** The tunnel ended, however it ended. */
  closed?: () => void
}

/**
 * Proxies an Upgrade request. Bytes flow both ways only once the upstream has answered
 * `101 Switching Protocols`: any other answer is relayed to the client as an ordinary response,
 * after which the client's connection is closed, so nothing more the client writes on it reaches
 * the upstream unchecked (an upstream that ignores Upgrade and answers 200 would otherwise
 * receive every later request on that socket as tunnel bytes). Bytes the client sent after its
 * handshake (`head`) are held until the 101.
 */
export function proxyUpgrade(client: Duplex, head: Buffer, target: UpgradeTarget, hooks: UpgradeHooks): void {
  const https = target.origin.protocol === 'https:'
  const port = Number(target.origin.port || (https ? 443 : 80))
  const hostname = target.origin.hostname.replace(/^\[|\]$/g, '')
  const options = { host: hostname, port, method: target.method, path: target.path, headers: target.headers, setHost: false, agent: false as const, lookup: target.lookup, maxHeaderSize: target.maxHeaderBytes ?? MAX_RESPONSE_HEADER_BYTES }
  const upstreamReq = https ? httpsRequest({ ...options, servername: hostname }) : httpRequest(options)
  let answered = false
  let timedOut = false
  const timer = setTimeout(() => {
    timedOut = true
    upstreamReq.destroy(new Error('the upstream did not answer in time'))
  }, target.timeoutMs)
  const abandon = () => {
    if (!answered) upstreamReq.destroy()
  }
  client.once('close', abandon)
  client.on('error', () => client.destroy())

  upstreamReq.once('upgrade', (res: IncomingMessage, upstream: Socket, upstreamHead: Buffer) => {
    answered = true
    clearTimeout(timer)
    client.off('close', abandon)
    if (res.statusCode !== 101 || client.destroyed) {
      upstream.destroy()
      client.destroy()
      return
    }
    client.write(responseHead(res, hooks.responseHeaders(res.rawHeaders, 101)))
    if (upstreamHead.length) client.write(upstreamHead)
    if (head.length) upstream.write(head)
    upstream.setTimeout(0)
    upstream.pipe(client).pipe(upstream)
    let ended = false
    const close = () => {
      upstream.destroy()
      client.destroy()
      if (!ended) {
        ended = true
        hooks.closed?.()
      }
    }
    for (const side of [upstream, client]) side.on('error', close).on('close', close)
    hooks.spliced?.(close)
  })

  upstreamReq.once('response', (res: IncomingMessage) => {
    answered = true
    clearTimeout(timer)
    client.off('close', abandon)
    // No final answer: a 101 that names no protocol (RFC 9110 §15.2.2: it must) is not a switch
    // Node will make, and a status below 100 or past 599 is no HTTP status. The client gets the
    // gateway's 502, as on its other paths, not that status and whatever came after it.
    const status = res.statusCode ?? 0
    if (status < 200 || status > MAX_STATUS) {
      res.destroy()
      hooks.unreachable(new Error(status === 101 ? 'it answered 101 without an Upgrade header' : `it answered with status ${status}`), false)
      hooks.closed?.()
      return
    }
    // Not switching: an ordinary response, then the end of this connection. Node has already
    // undone any chunked framing, and the close delimits the body.
    const headers = hooks.responseHeaders(res.rawHeaders, status).filter((_, i, all) => i % 2 === 0 ? !FRAMING.test(all[i]!) : !FRAMING.test(all[i - 1]!))
    headers.push('connection', 'close')
    client.write(responseHead(res, headers))
    res.pipe(client)
    res.once('error', () => client.destroy())
    hooks.closed?.()
  })

  upstreamReq.once('error', (err: Error) => {
    clearTimeout(timer)
    client.off('close', abandon)
    if (answered) return void client.destroy()
    answered = true
    if (client.destroyed) return
    hooks.unreachable(err, timedOut)
    hooks.closed?.()
  })
  upstreamReq.end()
}

const FRAMING = /^(transfer-encoding|connection|keep-alive)$/i

function responseHead(res: IncomingMessage, headers: readonly string[]): string {
  const lines = [`HTTP/1.1 ${res.statusCode} ${(res.statusMessage ?? '').replace(/[^\t\x20-\x7e]/g, '')}`]
  for (let i = 0; i < headers.length; i += 2) lines.push(`${headers[i]}: ${headers[i + 1]}`)
  return lines.join('\r\n') + '\r\n\r\n'
}
