import type { Duplex } from 'node:stream'

/**
 * Hands an upgraded connection to the upstream: writes the handshake (request line and header
 * list) and any bytes the client already sent, then copies bytes both ways until either side
 * closes, when both are torn down.
 */
export function spliceUpgrade(client: Duplex, upstream: Duplex, requestLine: string, headers: readonly string[], head: Buffer): void {
  const lines = [requestLine]
  for (let i = 0; i < headers.length; i += 2) lines.push(`${headers[i]}: ${headers[i + 1]}`)
  upstream.write(lines.join('\r\n') + '\r\n\r\n')
  if (head.length) upstream.write(head)
  upstream.pipe(client).pipe(upstream)
  const close = () => {
    upstream.destroy()
    client.destroy()
  }
  for (const side of [upstream, client]) side.on('error', close).on('close', close)
}
