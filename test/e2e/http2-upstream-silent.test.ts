import http2 from 'node:http2'
import { createServer, type AddressInfo, type Server } from 'node:net'
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
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
