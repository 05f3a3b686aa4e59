import type { IncomingMessage, Server } from 'node:http'
import type { Duplex } from 'node:stream'
import { TLSSocket } from 'node:tls'
import { whenAnswered } from './in-turn.js'

/**
 * Whether an Upgrade header asks for h2c. Such a request is served as a plain HTTP/1.1 one, its
 * Upgrade never passed on (RFC 9113 §3.1 has a server that does not switch simply answer): were
 * the upstream to switch, every request after the 101 would reach it unchecked, with whatever
 * headers it carries (X-Postern-Authenticated-Email among them) — "h2c smuggling". Java's
 * HttpClient and `curl --http2` ask for it on every plain-http request they open a connection
 * with, a POST's included.
 */
export function upgradesToH2c(upgrade: string | undefined): boolean {
  return upgrade !== undefined && upgrade.split(',').some((p) => p.trim().split('/')[0]!.toLowerCase() === 'h2c')
}

/** What asks to switch: the Upgrade and HTTP2-Settings headers, and Connection's tokens naming them. */
const ASKS_TO_SWITCH = new Set(['upgrade', 'http2-settings'])
const LINE_BREAK = /[\r\n]/

/**
 * A request's head as the client would have sent it had it not asked to switch: the same request
 * line and headers, in order and as received, less Upgrade, HTTP2-Settings and Connection's
 * `upgrade` and `http2-settings` (a Connection header left with nothing is dropped). Undefined
 * for anything that cannot be written back as it came (a line break in a name or value). With
 * `close`, the request asks for its connection to end after its answer (Connection: close).
 */
export function headWithoutUpgrade(req: Pick<IncomingMessage, 'method' | 'url' | 'httpVersion' | 'rawHeaders'>, close = false): Buffer | undefined {
  const line = `${req.method} ${req.url} HTTP/${req.httpVersion}`
  if (LINE_BREAK.test(line)) return undefined
  const lines = [line]
  const raw = req.rawHeaders
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!
    let value = raw[i + 1]!
    const lower = name.toLowerCase()
    if (ASKS_TO_SWITCH.has(lower)) continue
    if (lower === 'connection') {
      const kept = value.split(',').map((t) => t.trim()).filter((t) => t !== '' && !ASKS_TO_SWITCH.has(t.toLowerCase()))
      if (kept.length === 0) continue
      value = kept.join(', ')
    }
    if (LINE_BREAK.test(name) || LINE_BREAK.test(value)) return undefined
    lines.push(`${name}: ${value}`)
  }
  if (close) lines.push('Connection: close')
  // Node reads header bytes as latin1: written back the same way, they are the bytes that came.
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1')
}

/**
 * An 'upgrade' listener. `asPlain`, where the server offers it, serves the request as the plain
 * one it also is instead (servedAsPlain); false when its head cannot be written back as it came.
 */
export type UpgradeListener = (req: IncomingMessage, socket: Duplex, head: Buffer, asPlain?: () => boolean) => void

/**
 * An 'upgrade' listener for `server` that serves an upgrade to h2c as the plain request it also
 * is, and hands any other upgrade to `upgrade`, which may have it served so too (`asPlain`).
 */
export function servingH2cAsHttp1(server: Server, upgrade: UpgradeListener): UpgradeListener {
  return (req, socket, head) => {
    if (upgradesToH2c(req.headers.upgrade) && servedAsPlain(server, req, socket, head, false)) return
    // Any other upgrade served as plain was one not taken: its connection ends after the answer,
    // as on the nginx plane, so that a proxy in front that took the upgrade for granted (and
    // would pass what its caller sends next as a tunnel's bytes) has nothing more read from it.
    upgrade(req, socket, head, () => servedAsPlain(server, req, socket, head, true))
  }
}

/**
 * Serves a request that asked to upgrade as a plain one. Node's HTTP server gives every request
 * that asks to upgrade to its 'upgrade' listeners as a raw socket, its body unread; so the request
 * is put back on the socket without its ask to switch, and the socket handed to the server again,
 * which parses it (body, keep-alive, the requests after it) as any other. False, and nothing done,
 * when its head cannot be written back as it came.
 */
function servedAsPlain(server: Server, req: IncomingMessage, socket: Duplex, head: Buffer, close: boolean): boolean {
  const plain = headWithoutUpgrade(req, close)
  if (!plain) return false
  socket.unshift(head.length > 0 ? Buffer.concat([plain, head]) : plain)
  // An HTTPS server parses what its 'secureConnection' listeners are given.
  const again = () => server.emit(socket instanceof TLSSocket ? 'secureConnection' : 'connection', socket)
  // A request pipelined behind ones still being answered: Node queues each answer behind the one
  // before it, per parser, so the socket goes to a new parser only once they are written (else
  // the new parser's answers wait for ever).
  whenAnswered(socket, again)
  return true
}
