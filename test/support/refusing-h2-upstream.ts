import { createHash } from 'node:crypto'
import http2, { type Http2Session } from 'node:http2'
import type { AddressInfo } from 'node:net'

const { NGHTTP2_REFUSED_STREAM } = http2.constants

/** One stream the upstream received: on which of its connections, whether refused, and its body. */
export interface StreamSeen {
  connection: number
  path: string
  refused: boolean
  sha256: string
  length: number
}

/**
 * An h2c server (Node's) that refuses the first stream for each path with REFUSED_STREAM — "not
 * processed, send it again" (RFC 9113 §8.7), what a server says to the streams its GOAWAY leaves
 * out — after reading its whole request body, and answers every other stream with the SHA-256
 * and length of the body it got. So the race every HTTP/2 client of a server that retires its
 * connections meets now and then is met every time.
 */
export async function startRefusingH2Upstream(): Promise<{ url: string; seen: StreamSeen[]; close(): Promise<void> }> {
  const seen: StreamSeen[] = []
  const connections = new WeakMap<Http2Session, number>()
  let opened = 0
  const server = http2.createServer()
  const sessions = new Set<Http2Session>()
  server.on('session', (session) => {
    connections.set(session, ++opened)
    sessions.add(session)
    session.once('close', () => sessions.delete(session))
  })
  server.on('stream', (stream, headers) => {
    const connection = connections.get(stream.session!)!
    const path = String(headers[':path'])
    const refuse = !seen.some((s) => s.path === path)
    const hash = createHash('sha256')
    let length = 0
    stream.on('data', (chunk: Buffer) => {
      hash.update(chunk)
      length += chunk.length
    })
    stream.on('error', () => undefined)
    stream.on('end', () => {
      const sha256 = hash.digest('hex')
      seen.push({ connection, path, refused: refuse, sha256, length })
      if (refuse) stream.close(NGHTTP2_REFUSED_STREAM)
      else {
        stream.respond({ ':status': 200, 'content-type': 'application/json' })
        stream.end(JSON.stringify({ sha256, length }))
      }
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
