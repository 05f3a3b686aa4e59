import { createHash } from 'node:crypto'
import http2, { type Http2Session } from 'node:http2'
import type { AddressInfo } from 'node:net'

const { NGHTTP2_REFUSED_STREAM } = http2.constants

/** One stream the upstream received: on which of its connections, whether refused, its body and some of its headers. */
export interface StreamSeen {
  connection: number
  method: string
  path: string
  refused: boolean
  sha256: string
  length: number
  headers: { authority: string; authorization?: string; te?: string; 'x-forwarded-proto'?: string }
}

/**
 * An upstream that speaks HTTP/2 and nothing else (h2c, Node's http2 server without HTTP/1.1), as
 * gRPC servers do. Every stream is answered, once its whole body has come, with the SHA-256 and
 * length of that body; `/trailers` adds a trailer `x-upstream-trailer: kept`; `/events` is an event
 * stream, its headers at once and its first event 1.5 s later. Under `/refuse/`,
 * the first stream for each path is refused (under `/refuse-N/`, the first N) with REFUSED_STREAM — "not processed, send it again"
 * (RFC 9113 §8.7), what a server says to the streams its GOAWAY leaves out — after its whole body
 * was read: the race every HTTP/2 client of a server that retires connections meets now and then,
 * met every time.
 */
export async function startH2cUpstream(): Promise<{ url: string; seen: StreamSeen[]; close(): Promise<void> }> {
  const seen: StreamSeen[] = []
  const connections = new WeakMap<Http2Session, number>()
  const sessions = new Set<Http2Session>()
  let opened = 0
  const server = http2.createServer()
  server.on('session', (session) => {
    connections.set(session, ++opened)
    sessions.add(session)
    session.once('close', () => sessions.delete(session))
  })
  server.on('stream', (stream, headers) => {
    const path = String(headers[':path'])
    const refusals = path.startsWith('/refuse/') ? 1 : Number(/^\/refuse-(\d+)\//.exec(path)?.[1] ?? 0)
    const refuse = seen.filter((s) => s.path === path).length < refusals
    const hash = createHash('sha256')
    let length = 0
    stream.on('data', (chunk: Buffer) => {
      hash.update(chunk)
      length += chunk.length
    })
    stream.on('error', () => undefined)
    stream.on('end', () => {
      const sha256 = hash.digest('hex')
      const pick = (name: string) => (typeof headers[name] === 'string' ? { [name]: headers[name] } : {})
      seen.push({
        connection: connections.get(stream.session!)!,
        method: String(headers[':method']),
        path,
        refused: refuse,
        sha256,
        length,
        headers: { authority: String(headers[':authority']), ...pick('authorization'), ...pick('te'), ...pick('x-forwarded-proto') },
      })
      if (refuse) return stream.close(NGHTTP2_REFUSED_STREAM)
      if (path === '/events') {
        stream.respond({ ':status': 200, 'content-type': 'text/event-stream' })
        setTimeout(() => stream.end('data: first\n\n'), 1500)
        return
      }
      const body = JSON.stringify({ sha256, length })
      if (path !== '/trailers') {
        stream.respond({ ':status': 200, 'content-type': 'application/json' })
        return stream.end(body)
      }
      stream.respond({ ':status': 200, 'content-type': 'application/json' }, { waitForTrailers: true })
      stream.once('wantTrailers', () => stream.sendTrailers({ 'x-upstream-trailer': 'kept' }))
      stream.end(body)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        for (const session of sessions) session.destroy()
      }),
  }
}
