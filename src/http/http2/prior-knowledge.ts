import type { Socket } from 'node:net'
import { routeByFirstBytes } from '../first-bytes.js'

/** RFC 9113 §3.4: what a client that knows the server speaks HTTP/2 sends first, in cleartext (h2c). */
export const CONNECTION_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1')

/**
 * Whether the first bytes of a connection are (so far) the HTTP/2 preface: 'h2' once all of it
 * has arrived, 'http/1.1' as soon as a byte differs, undefined while what came is a prefix of it.
 * An HTTP/1.1 request line never starts with `PRI * HTTP/2.0`, so the two cannot be confused.
 */
export function readPreface(first: Buffer): 'h2' | 'http/1.1' | undefined {
  const n = Math.min(first.length, CONNECTION_PREFACE.length)
  if (first.subarray(0, n).compare(CONNECTION_PREFACE, 0, n) !== 0) return 'http/1.1'
  return n === CONNECTION_PREFACE.length ? 'h2' : undefined
}

/**
 * Serves HTTP/1.1 and h2c with prior knowledge on one cleartext port: reads a connection's first
 * bytes, puts them back, and hands the socket to whichever server speaks its protocol (each
 * takes it as if it had accepted it). A connection that sends nothing within `timeoutMs` is
 * closed, as an HTTP/1.1 server closes one that sends no headers.
 */
export function routeByPreface(socket: Socket, servers: { h1: (s: Socket) => void; h2: (s: Socket) => void }, timeoutMs: number): void {
  const h1 = (s: Socket) => {
    servers.h1(s)
    s.resume()
  }
  routeByFirstBytes(socket, (seen) => {
    const protocol = readPreface(seen)
    return protocol === 'h2' ? servers.h2 : protocol === 'http/1.1' ? h1 : undefined
  }, timeoutMs)
}
