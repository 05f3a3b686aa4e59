import { connect } from 'node:net'

export interface RawResponse {
  status: number
  head: string
  body: string
  raw: string
  /** Whether the server ended the connection (rather than the wait running out). */
  closed: boolean
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
    const done = (closed: boolean) => {
      socket.destroy()
      const [head = '', ...rest] = data.split('\r\n\r\n')
      resolve({ status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0), head, body: rest.join('\r\n\r\n'), raw: data, closed })
    }
    const timer = setTimeout(() => done(false), timeoutMs)
    socket.on('data', (d: Buffer) => (data += d.toString('latin1')))
    socket.on('end', () => {
      clearTimeout(timer)
      done(true)
    })
    socket.on('error', (err) => {
      clearTimeout(timer)
      if (data) done(true)
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

export interface FramedResponse {
  status: number
  /** The status line and header lines, without the empty line after them. */
  head: string
  body: string
}

/**
 * The responses a connection read, one after another as their framing says (Content-Length,
 * chunked, or to the close; none for a 1xx, a 204 or a 304, or an answer to HEAD: `methods` names
 * the method of each request in turn): unlike a search for status lines, it finds one that begins
 * right where a body ends. It stops at a 101 (what follows is the new protocol's), after a body
 * that runs to the close, and at bytes that are not a response.
 */
export function framedResponses(answer: string, methods: readonly string[] = []): FramedResponse[] {
  const responses: FramedResponse[] = []
  let answered = 0
  let at = 0
  while (at < answer.length) {
    const headEnd = answer.indexOf('\r\n\r\n', at)
    const head = /^HTTP\/1\.[01] (\d{3})[^\r\n]*((?:\r\n[^\r\n]+)*)$/.exec(answer.slice(at, headEnd))
    if (headEnd < 0 || !head) break
    const status = Number(head[1])
    const response = { status, head: head[0], body: '' }
    responses.push(response)
    at = headEnd + 4
    const field = (name: string) => new RegExp(`\r\n${name}: *([^\r\n]*)`, 'i').exec(head[2]!)?.[1]
    if (status === 101) break
    if (status < 200) continue
    if (methods[answered++] === 'HEAD' || status === 204 || status === 304) continue
    if (/chunked/i.test(field('transfer-encoding') ?? '')) {
      for (;;) {
        const line = answer.indexOf('\r\n', at)
        const size = parseInt(answer.slice(at, line), 16)
        if (line < 0 || Number.isNaN(size)) return responses
        // The last chunk: then trailers, if any, up to an empty line.
        if (size === 0) {
          at = answer.indexOf('\r\n\r\n', line) + 4
          break
        }
        response.body += answer.slice(line + 2, line + 2 + size)
        at = line + 2 + size + 2
      }
    } else if (field('content-length') !== undefined) {
      response.body = answer.slice(at, at + Number(field('content-length')))
      at += Number(field('content-length'))
    } else {
      response.body = answer.slice(at)
      break
    }
  }
  return responses
}

/** The statuses of framedResponses. */
export const framedStatuses = (answer: string, methods?: readonly string[]): number[] => framedResponses(answer, methods).map((r) => r.status)

/** Sends `packets` and reads until `enough` says what was read is all, the server closes, or 5 s pass. */
export function converse(port: number, packets: Buffer[], enough: (read: string) => boolean): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    let read = ''
    const done = () => {
      clearTimeout(timer)
      socket.destroy()
      resolve(read)
    }
    const timer = setTimeout(done, 5_000)
    socket.on('error', done)
    socket.on('close', done)
    socket.on('data', (d: Buffer) => {
      read += d.toString('latin1')
      if (enough(read)) done()
    })
    socket.once('connect', async () => {
      for (const packet of packets) {
        if (!socket.writable) return
        socket.write(packet)
        await new Promise((r) => setTimeout(r, 1))
      }
    })
  })
}
