import type { Socket } from 'node:net'
import type { Server as TlsServer } from 'node:tls'
import { routeByFirstBytes } from './first-bytes.js'

/** The answer to plain HTTP on a TLS port, on both data planes and the control plane. */
export const PLAIN_HTTP_REFUSED = 'This port speaks HTTPS, and the request came as plain HTTP: send it to https:// at the same host and port.'

/** The first byte of every TLS handshake record, and so of every ClientHello (RFC 8446 §5.1). */
const TLS_HANDSHAKE_RECORD = 0x16

/**
 * Plain HTTP sent to a port that serves TLS (`http://` typed by habit for `https://`): Node's
 * TLS server reads its first bytes as a broken handshake and closes the connection without a
 * word (curl: "Empty reply from server"). nginx answers such a request itself (its 497), and so
 * does Go's. Here each connection's first byte says which it is: a TLS record goes to the TLS
 * server's own listeners, as if it had accepted the socket (the listening server still counts
 * every connection, --max-connections), anything else to `plain`, which answers it in HTTP.
 */
export function answerPlainHttpBeside(server: TlsServer, plain: (socket: Socket) => void, timeoutMs: number): void {
  const tlsListeners = server.listeners('connection') as ((socket: Socket) => void)[]
  server.removeAllListeners('connection')
  const toTls = (socket: Socket) => {
    for (const listener of tlsListeners) listener.call(server, socket)
  }
  server.on('connection', (socket: Socket) => routeByFirstBytes(socket, (seen) => (seen[0] === TLS_HANDSHAKE_RECORD ? toTls : plain), timeoutMs))
}
