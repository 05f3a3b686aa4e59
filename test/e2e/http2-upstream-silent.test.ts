import http2 from 'node:http2'
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net'
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LIVENESS } from '../../src/http/http2/liveness.js'
import { H2Sessions } from '../../src/http/http2/sessions.js'
import { FRAME, frame } from '../support/h2-frames.js'
import { startPostern, type PosternProcess } from '../support/server.js'

/**
 * An upstream connection that broke the protocol once. nghttp2 answers a DATA frame on stream 0
 * with GOAWAY and stops reading, and Node 20 says nothing of it: before src/http/http2/liveness.ts,
 * the gateway's streams on that connection waited out the service's timeout (504), and so did
 * every request after them, put on the same silent session for as long as requests kept coming.
 */
describe('an HTTP/2 upstream connection that went silent', () => {
  let p: PosternProcess
  let front: Server
  let connections = 0
  let token: string
  let host: string

  beforeAll(async () => {
    // A real HTTP/2 server (node:http2) behind a front that spoils the first connection only.
    const upstream = http2.createServer()
    upstream.on('stream', (stream, headers) => {
      stream.on('error', () => undefined)
      const answer = () => {
        if (stream.destroyed) return
        stream.respond({ ':status': 200 })
        stream.end('ok')
      }
      if (headers[':path'] === '/slow') setTimeout(answer, 8_000)
      else answer()
    })
    front = createServer((socket) => {
      socket.on('error', () => undefined)
      if (++connections > 1) {
        upstream.emit('connection', socket)
        return
      }
      socket.once('data', () => socket.write(Buffer.concat([frame(FRAME.SETTINGS, 0, 0), frame(FRAME.DATA, 0, 0, Buffer.from('x'))])))
    })
    await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve))
    p = await startPostern()
    const url = `http://127.0.0.1:${(front.address() as AddressInfo).port}`
    expect((await p.cli(['services', 'create', 'h2only', `--upstream=${url}`, '--use-http2', '--timeout=60'])).code).toBe(0)
    token = await p.ownerIdToken()
    host = `h2only.my-project.localhost:${p.gatewayPort}`
  })
  afterAll(async () => {
    await p?.stop()
    front?.close()
  })

  const call = async (path: string) => {
    const started = Date.now()
    const r = await request(`http://127.0.0.1:${p.gatewayPort}${path}`, { headers: { host, authorization: `Bearer ${token}` }, headersTimeout: 30_000 })
    return { status: r.statusCode, body: await r.body.text(), seconds: (Date.now() - started) / 1000 }
  }

  it("the request on it gets the gateway's 502 within seconds, not the service's timeout", async () => {
    const r = await call('/')
    expect(r.status).toBe(502)
    expect(JSON.parse(r.body).error.message).toContain('is unreachable (ERR_HTTP2_SESSION_UNRESPONSIVE)')
    expect(r.seconds).toBeLessThan(15)
  }, 40_000)

  it('the next request opens a new connection and is answered', async () => {
    expect(await call('/')).toMatchObject({ status: 200, body: 'ok' })
    expect(connections).toBe(2)
  })

  it('a slow answer (8 s) on a live connection is waited for: the connection acknowledges, and is kept', async () => {
    const r = await call('/slow')
    expect(r).toMatchObject({ status: 200, body: 'ok' })
    expect(r.seconds).toBeGreaterThan(7.5)
    expect(connections).toBe(2)
  }, 30_000)
})

/**
 * The same, in the middle of a response: the upstream sent its headers and part of the body, then
 * broke the protocol. No new request need meet the session for it to be found: when it has been
 * quiet for the idle time it is asked, as any idle session is before it is closed, and a dead one
 * is destroyed, so the stream fails rather than wait for ever. H2Sessions itself, on real
 * sockets, with the idle time shortened from 60 s to 300 ms.
 */
describe('an HTTP/2 upstream connection that goes silent in the middle of a response', () => {
  let front: Server
  let origin: string
  let sessions: H2Sessions

  beforeAll(async () => {
    const upstream = http2.createServer()
    const sockets = new Map<http2.Http2Session, Socket>()
    upstream.on('stream', (stream, headers) => {
      stream.on('error', () => undefined)
      stream.respond({ ':status': 200 })
      stream.write('part ')
      const [, action, ms] = String(headers[':path']).split('/')
      setTimeout(() => {
        if (stream.destroyed) return
        // A DATA frame on stream 0, written straight to the socket between nghttp2's frames.
        if (action === 'break') sockets.get(stream.session!)!.write(frame(FRAME.DATA, 0, 0, Buffer.from('x')))
        else stream.end('rest')
      }, Number(ms))
    })
    front = createServer((socket) => {
      socket.on('error', () => undefined)
      upstream.once('session', (session) => sockets.set(session, socket))
      upstream.emit('connection', socket)
    })
    await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve))
    origin = `http://127.0.0.1:${(front.address() as AddressInfo).port}`
    sessions = new H2Sessions({ idleMs: 300 })
  })
  afterAll(() => {
    sessions?.close()
    front?.close()
  })

  /** A stream through H2Sessions: its status, the body it got, and how it ended. */
  const fetchVia = (path: string) =>
    new Promise<{ status: unknown; body: string; error?: string; seconds: number }>((resolve) => {
      const started = Date.now()
      const stream = sessions.request(origin, { ':method': 'GET', ':path': path, ':scheme': 'http', ':authority': 'upstream' }, { endStream: true })
      let status: unknown
      let body = ''
      stream.on('response', (h) => (status = h[':status']))
      stream.on('data', (d: Buffer) => (body += d.toString()))
      stream.on('end', () => resolve({ status, body, seconds: (Date.now() - started) / 1000 }))
      stream.on('error', (err: NodeJS.ErrnoException) => resolve({ status, body, error: err.code, seconds: (Date.now() - started) / 1000 }))
    })

  it('its stream fails within the idle time and an answer time, with what came so far', async () => {
    const r = await fetchVia('/break/100')
    expect(r).toMatchObject({ status: 200, body: 'part ', error: 'ERR_HTTP2_SESSION_UNRESPONSIVE' })
    expect(r.seconds).toBeLessThan(15)
  }, 30_000)

  it('a live response that is quiet for longer than that is received whole', async () => {
    const r = await fetchVia(`/end/${300 + LIVENESS.answerMs + 1_000}`)
    expect(r).toMatchObject({ status: 200, body: 'part rest' })
    expect(r.error).toBeUndefined()
  }, 30_000)
})
