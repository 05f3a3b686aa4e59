import http, { type Server } from 'node:http'
import http2 from 'node:http2'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { serveHttp2Beside } from '../../src/http/http2/ingress.js'
import { eventually } from '../support/eventually.js'
import { FLAG, FRAME, frame, goawayCode, headerBlock, rawH2, type Received } from '../support/h2-frames.js'

// The answer time is kept well above the worker's own pauses: client and server share this process.
const quiet = { probeAfterMs: 200, answerMs: 1_500 }
/** Longer than a quiet spell and the time to answer after it: a session that did not answer would be gone. */
const MANY_SPELLS_MS = quiet.probeAfterMs + quiet.answerMs + 1_000

/** The HTTP/2 ingress of the gateway and of `postern services proxy`, on a real socket, answering every stream with 200 (after ?ms=N). */
async function serve(idleTimeoutMs: number): Promise<{ server: Server; port: number; stop(): Promise<unknown> }> {
  const server = http.createServer((_, res) => res.end('h1'))
  serveHttp2Beside(server, {
    tls: false,
    idleTimeoutMs,
    prefaceTimeoutMs: 10_000,
    quiet,
    onStream: (stream, headers) => {
      // As the gateway's: a stream of a session destroyed for not answering ends with its error.
      stream.on('error', () => undefined)
      const ms = Number(new URL(String(headers[':path']), 'http://x').searchParams.get('ms') ?? 0)
      setTimeout(() => {
        if (stream.destroyed) return
        stream.respond({ ':status': 200 })
        stream.end('ok')
      }, ms)
    },
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const stop = () => {
    server.closeAllConnections()
    return new Promise((resolve) => server.close(resolve))
  }
  return { server, port: (server.address() as AddressInfo).port, stop }
}

/**
 * A client session that nghttp2 ended after a protocol error is read no more, and Node says
 * nothing: without a probe the connection would be held until the idle timeout (5 minutes on the
 * gateway, for ever on `postern services proxy`). The quiet spell before a probe is shortened
 * from 30 s to 200 ms, and the time to answer from 30 s to 1.5 s, so the tests need not wait them out.
 */
describe('HTTP/2 client sessions that went dead are ended', () => {
  let server: Server
  let port: number
  let stop: () => Promise<unknown>

  beforeAll(async () => {
    ;({ server, port, stop } = await serve(300_000))
  })
  afterAll(() => stop())

  const connections = () => new Promise<number>((resolve, reject) => server.getConnections((err, n) => (err ? reject(err) : resolve(n))))

  it('one that sent DATA on stream 0 and closed its side is closed by the server once it fails to answer', async () => {
    const c = await rawH2(port)
    c.send(frame(FRAME.DATA, 0, 0, Buffer.from('x')))
    c.socket.end()
    await eventually(8_000, () => c.socket.destroyed, 'the server to close the connection', 20)
    await eventually(3_000, async () => (await connections()) === 0, 'the server to hold no connection', 20)
  })

  it('one that sent DATA on stream 0 and keeps its socket open is closed by the server too', async () => {
    const c = await rawH2(port)
    c.send(frame(FRAME.DATA, 0, 0, Buffer.from('x')))
    await eventually(8_000, () => c.socket.destroyed, 'the server to close the connection', 20)
  })

  it('so is one that sent it with a request open, whose stream then never ends', async () => {
    const c = await rawH2(port)
    c.send(frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 1, headerBlockFor(port, '/?ms=100')))
    c.send(frame(FRAME.DATA, 0, 0, Buffer.from('x')))
    await eventually(8_000, () => c.socket.destroyed, 'the server to close the connection', 20)
  })

  it('an idle client that acknowledges is kept through many quiet spells, and its next request is served on the same connection', async () => {
    const c = await rawH2(port)
    c.send(frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 1, headerBlockFor(port)))
    await eventually(3_000, () => answered(c.frames, 1), 'an answer on stream 1', 20)
    await new Promise((r) => setTimeout(r, MANY_SPELLS_MS))
    expect(c.socket.destroyed).toBe(false)
    expect(c.frames.filter((f) => f.type === FRAME.SETTINGS && f.flags === 0).length, 'probes were sent').toBeGreaterThan(2)
    c.send(frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 3, headerBlockFor(port)))
    await eventually(3_000, () => answered(c.frames, 3), 'an answer on stream 3', 20)
    c.socket.destroy()
  })

  it('so is Node’s own client, idle between requests', async () => {
    const client = http2.connect(`http://127.0.0.1:${port}`)
    const get = () =>
      new Promise<number>((resolve, reject) => {
        const req = client.request({ ':path': '/' })
        req.on('response', (h) => resolve(Number(h[':status'])))
        req.on('error', reject)
        req.resume()
        req.end()
      })
    expect(await get()).toBe(200)
    await new Promise((r) => setTimeout(r, MANY_SPELLS_MS))
    expect(client.destroyed || client.closed).toBe(false)
    expect(await get()).toBe(200)
    client.destroy()
  })

  it('a request whose answer takes many quiet spells is answered on its connection', async () => {
    const c = await rawH2(port)
    c.send(frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 1, headerBlockFor(port, `/?ms=${MANY_SPELLS_MS}`)))
    await eventually(MANY_SPELLS_MS + 3_000, () => answered(c.frames, 1), 'an answer on stream 1', 20)
    expect(c.socket.destroyed).toBe(false)
    expect(c.frames.filter((f) => f.type === FRAME.SETTINGS && f.flags === 0).length, 'probes were sent meanwhile').toBeGreaterThan(2)
    c.socket.destroy()
  })
})

const answered = (frames: Received[], streamId: number) => frames.some((f) => f.type === FRAME.HEADERS && f.streamId === streamId)

describe('HTTP/2 client sessions idle for the timeout', () => {
  it('are ended with GOAWAY, although they answer every probe', async () => {
    const idle = await serve(1_000)
    try {
      const c = await rawH2(idle.port)
      c.send(frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 1, headerBlockFor(idle.port)))
      await eventually(3_000, () => answered(c.frames, 1), 'an answer on stream 1', 20)
      const answeredAt = Date.now()
      await eventually(5_000, () => c.socket.destroyed, 'the server to end the idle connection', 20)
      expect(Date.now() - answeredAt).toBeGreaterThanOrEqual(1_000 - 50)
      expect(goawayCode(c.frames)).toBe(0)
      expect(c.frames.filter((f) => f.type === FRAME.SETTINGS && f.flags === 0).length, 'probes were sent meanwhile').toBeGreaterThan(2)
    } finally {
      await idle.stop()
    }
  })

  it('so are those that answer each probe later than a quiet spell', async () => {
    const idle = await serve(1_000)
    try {
      const c = await rawH2(idle.port, { settingsAckDelayMs: 2 * quiet.probeAfterMs })
      await eventually(6_000, () => c.socket.destroyed, 'the server to end the idle connection', 20)
      expect(goawayCode(c.frames)).toBe(0)
    } finally {
      await idle.stop()
    }
  })
})

function headerBlockFor(port: number, path = '/'): Buffer {
  return headerBlock([
    [':method', 'GET'],
    [':scheme', 'http'],
    [':path', path],
    [':authority', `127.0.0.1:${port}`],
  ])
}
