import { connect } from 'node:net'

export interface RawResponse {
  status: number
  head: string
  body: string
  raw: string
}

/**
 * Sends bytes exactly as given (no client normalisation: duplicate headers, odd framing) and
 * reads until the server closes or `timeoutMs` passes; from `localAddress` (another loopback
 * address, say) when given.
 */
export function rawRequest(port: number, bytes: string | Buffer, timeoutMs = 5_000, localAddress?: string): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress })
    let data = ''
    const done = () => {
      socket.destroy()
      const [head = '', ...rest] = data.split('\r\n\r\n')
      resolve({ status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0), head, body: rest.join('\r\n\r\n'), raw: data })
    }
    const timer = setTimeout(done, timeoutMs)
    socket.on('data', (d: Buffer) => (data += d.toString('latin1')))
    socket.on('end', () => {
      clearTimeout(timer)
      done()
    })
    socket.on('error', (err) => {
      clearTimeout(timer)
      if (data) done()
      else reject(err)
    })
    socket.write(bytes)
  })
}

/** A GET with the given header lines and Connection: close (from `localAddress` when given). */
export function rawGet(port: number, host: string, headerLines: string[], path = '/echo', localAddress?: string): Promise<RawResponse> {
  return rawRequest(port, [`GET ${path} HTTP/1.1`, `Host: ${host}`, ...headerLines, 'Connection: close', '', ''].join('\r\n'), 5_000, localAddress)
}

/**
 * Asks for a WebSocket upgrade of `host` at `port`, then resets the connection (TCP RST) after
 * `afterMs`: while the upgrade is decided, as its refusal is written, or once it is forwarded.
 */
export function resetUpgrade(port: number, host: string, afterMs: number): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(`GET /echo HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`)
      setTimeout(() => (socket.resetAndDestroy(), resolve()), afterMs)
    })
    socket.on('error', () => resolve())
  })
}
