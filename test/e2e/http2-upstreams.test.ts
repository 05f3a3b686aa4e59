import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import http2 from 'node:http2'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { curl } from '../support/curl.js'
import { eventually } from '../support/eventually.js'
import { curlEventStream } from '../support/event-stream.js'
import { bearer, echoClient, say, startGrpcUpstream } from '../support/grpc-upstream.js'
import { startH2cUpstream } from '../support/h2c-upstream.js'
import { bigHeaders } from '../support/h2-ask.js'
import { ERROR, FLAG, FRAME, frame, rawH2Upstream, rstStream } from '../support/h2-frames.js'
import { freePort } from '../support/ports.js'
import { selfSignedCertificate } from '../support/self-signed.js'
import { DATA_PLANES, startPostern, type PosternProcess } from '../support/server.js'

const digest = (b: Buffer) => createHash('sha256').update(b).digest('hex')
const answerFor = (b: Buffer) => JSON.stringify({ sha256: digest(b), length: b.length })

/**
 * Services whose upstream speaks HTTP/2 (`--use-http2`), with upstreams that speak nothing else:
 * HTTP/1.1 callers are sent over h2c too, as Cloud Run sends every request to such a container;
 * and a stream the upstream refuses (REFUSED_STREAM, as every stream its GOAWAY leaves out when it
 * retires a connection) has processed none of it, so the gateway sends it again, up to three
 * times, with the request body it had sent (up to 64 KiB): the caller never sees the refusal. The
 * Node plane takes HTTP/2 over h2c; the nginx plane over TLS, and hands HTTP/2 streams to Postern.
 */
describe.each(DATA_PLANES)('upstreams that speak HTTP/2 only (%s data plane)', (dataPlane) => {
  let p: PosternProcess
  let h2c: Awaited<ReturnType<typeof startH2cUpstream>>
  let aging: Awaited<ReturnType<typeof startGrpcUpstream>>
  let resetting: Awaited<ReturnType<typeof rawH2Upstream>>
  let token: string
  let tls: { cert: string; key: string } | undefined
  let ca: Buffer | undefined
  const host = (service: string) => `${service}.my-project.localhost:${p.gatewayPort}`
  const scheme = () => (tls ? 'https' : 'http')
  const origin = () => `${scheme()}://127.0.0.1:${p.gatewayPort}`

  beforeAll(async () => {
    tls = dataPlane === 'nginx' ? selfSignedCertificate() : undefined
    const env = tls ? { NODE_EXTRA_CA_CERTS: tls.cert } : undefined
    ca = tls && readFileSync(tls.cert)
    h2c = await startH2cUpstream()
    aging = await startGrpcUpstream({ maxConnectionAgeMs: 100 })
    // Its answer's headers (:status 200, from HPACK's static table) and a reset, in one write.
    resetting = await rawH2Upstream((stream) => Buffer.concat([frame(FRAME.HEADERS, FLAG.END_HEADERS, stream, Buffer.from([0x88])), rstStream(stream, ERROR.INTERNAL_ERROR)]))
    p = await startPostern({ dataPlane, ...(tls && { args: ['--tls-cert', tls.cert, '--tls-key', tls.key], env }) })
    for (const [name, url] of [['h2c', h2c.url], ['aging', aging.url], ['resetting', resetting.url], ['gone', `http://127.0.0.1:${await freePort()}`]]) {
      const created = await p.cli(['services', 'create', name!, `--upstream=${url}`, '--use-http2'], { env })
      expect(created.code, created.stderr).toBe(0)
    }
    token = (await p.cli(['auth', 'print-identity-token'], { env })).stdout.trim()
    expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/)
    // The nginx plane learns of new services within moments.
    await eventually(15_000, async () => (await h2Request('h2c', '/ready')).status === 200, 'the gateway answering for the new services')
  })
  afterAll(async () => {
    await p?.stop()
    await Promise.all([h2c?.close(), aging?.close(), resetting?.close()])
  })

  /** One HTTP/2 request over a connection of its own, with Node's http2 client. */
  async function h2Request(service: string, path: string, body?: Buffer, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
    // Header blocks past node:http2's own 64 KB may be sent (the tests of the gateway's bound).
    const client = http2.connect(origin(), { ...(ca && { ca }), maxSendHeaderBlockLength: 1 << 20 })
    client.on('error', () => undefined)
    try {
      const stream = client.request({ ':method': body ? 'POST' : 'GET', ':path': path, ':authority': host(service), authorization: `Bearer ${token}`, ...headers }, { endStream: !body })
      if (body) stream.end(body)
      let status = 0
      let text = ''
      stream.on('response', (h) => (status = Number(h[':status'])))
      stream.on('data', (d: Buffer) => (text += d.toString()))
      await new Promise<void>((resolve) => stream.once('close', () => resolve()))
      return { status, body: text }
    } finally {
      client.close()
    }
  }

  /** One HTTP/1.1 request with Node's http client (curl's --cacert for TLS): status, body and trailers. */
  function h1Request(service: string, path: string, o: { method?: string; body?: Buffer; headers?: Record<string, string> } = {}) {
    return new Promise<{ status: number; body: string; trailers: Record<string, string> }>((resolve, reject) => {
      const request = (tls ? https : http).request(`${origin()}${path}`, { method: o.method ?? (o.body ? 'POST' : 'GET'), ca, agent: false, headers: { host: host(service), authorization: `Bearer ${token}`, ...o.headers } }, (res) => {
        let text = ''
        res.on('data', (d: Buffer) => (text += d.toString()))
        res.on('end', () => resolve({ status: res.statusCode!, body: text, trailers: { ...res.trailers } as Record<string, string> }))
      })
      request.on('error', reject)
      request.end(o.body)
    })
  }

  const streamsFor = (path: string) => h2c.seen.filter((s) => s.path === path).map((s) => ({ refused: s.refused, length: s.length }))

  describe('HTTP/1.1 callers', () => {
    it('reach the upstream over h2c, as a stream it can take, with the same identity and cleaning as any request', async () => {
      const r = await curl([...(tls ? ['--cacert', tls.cert] : []), '--http1.1', '-H', `Authorization: Bearer ${token}`, '-w', ' %{http_code} %{http_version}', '--resolve', `${host('h2c').split(':')[0]}:${p.gatewayPort}:127.0.0.1`, `${scheme()}://${host('h2c')}/h1-get`])
      expect(r.stdout, r.stderr).toBe(`${answerFor(Buffer.alloc(0))} 200 1.1`)
      const [seen] = h2c.seen.filter((s) => s.path === '/h1-get')
      expect(seen).toMatchObject({ method: 'GET', headers: { authority: new URL(h2c.url).host, 'x-forwarded-proto': scheme(), authorization: `Bearer ${token.slice(0, token.lastIndexOf('.') + 1)}SIGNATURE_REMOVED_BY_POSTERN` } })
    })

    it('send their bodies byte for byte (curl, 1 MB), and HEAD is answered without one', async () => {
      const data = randomBytes(1024 * 1024)
      const file = join(mkdtempSync(join(tmpdir(), 'postern-h2c-')), 'body.bin')
      writeFileSync(file, data)
      const r = await curl([...(tls ? ['--cacert', tls.cert] : []), '--http1.1', '-H', `Authorization: Bearer ${token}`, '--data-binary', `@${file}`, '--resolve', `${host('h2c').split(':')[0]}:${p.gatewayPort}:127.0.0.1`, `${scheme()}://${host('h2c')}/h1-upload`])
      expect(r.stdout, r.stderr).toBe(answerFor(data))
      expect(await h1Request('h2c', '/h1-head', { method: 'HEAD' })).toMatchObject({ status: 200, body: '' })
    })

    it('get the upstream’s trailers when they take them (TE: trailers) from the Node plane; nginx relays no trailers to HTTP/1.1', async () => {
      const r = await h1Request('h2c', '/trailers', { headers: { te: 'trailers' } })
      expect(r).toEqual({ status: 200, body: answerFor(Buffer.alloc(0)), trailers: dataPlane === 'node' ? { 'x-upstream-trailer': 'kept' } : {} })
      // The upstream is told trailers are welcome, as gRPC servers want to be.
      expect(h2c.seen.find((s) => s.path === '/trailers')?.headers.te).toBe('trailers')
    })

    it('get an event stream’s headers as soon as the upstream sends them, not with its first event (curl)', async () => {
      const r = await curlEventStream([...(tls ? ['--cacert', tls.cert] : []), '--http1.1', '-H', `Authorization: Bearer ${token}`, '--resolve', `${host('h2c').split(':')[0]}:${p.gatewayPort}:127.0.0.1`, `${scheme()}://${host('h2c')}/events`])
      expect({ body: r.body, answer: r.answer }, r.stderr).toEqual({ body: 'data: first\n\n', answer: '1.1 200' })
      expect(r.headersAt, 'the headers arrived with the first event').toBeLessThan(1)
      expect(r.total).toBeGreaterThanOrEqual(1.4)
    })

    it('a refused stream is sent again with its body', async () => {
      const data = randomBytes(10 * 1024)
      expect(await h1Request('h2c', '/refuse/h1-post', { body: data })).toMatchObject({ status: 200, body: answerFor(data) })
      expect(streamsFor('/refuse/h1-post')).toEqual([{ refused: true, length: data.length }, { refused: false, length: data.length }])
    })

    it('a service switched to --use-http2 is sent over h2c within moments, though its callers never stopped calling (nginx renews their verdicts)', async () => {
      const env = tls ? { NODE_EXTRA_CA_CERTS: tls.cert } : undefined
      expect((await p.cli(['services', 'create', 'switched', `--upstream=${h2c.url}`], { env })).code).toBe(0)
      // HTTP/1.1 to an upstream that speaks HTTP/2 only fails: both planes answer 502.
      const FAILED = -1
      const status = () => h1Request('switched', '/switch').then((r) => r.status, () => FAILED)
      await eventually(15_000, async () => (await status()) === 502, 'HTTP/1.1 to the h2c-only upstream answered 502')
      // Calls every 20 ms throughout, so that nginx keeps renewing the verdict they rest on.
      let calling = true
      const statuses: number[] = []
      const caller = (async () => {
        while (calling) {
          statuses.push(await status())
          await new Promise((resolve) => setTimeout(resolve, 20))
        }
      })()
      try {
        await new Promise((resolve) => setTimeout(resolve, 1_500))
        expect((await p.cli(['services', 'update', 'switched', '--use-http2'], { env })).code).toBe(0)
        // Within a verdict's life (a second on each nginx worker), every call is answered over h2c.
        const switched = statuses.length
        await eventually(5_000, async () => statuses.length > switched + 20 && statuses.slice(-20).every((s) => s === 200), '20 answers in a row over h2c')
      } finally {
        calling = false
        await caller
      }
    })

    it('an upstream that cannot be reached is the gateway’s 502', async () => {
      const r = await h1Request('gone', '/')
      expect(r.status).toBe(502)
      expect(JSON.parse(r.body)).toMatchObject({ error: { code: 502, status: 'BAD_GATEWAY', message: expect.stringContaining('projects/my-project/services/gone is unreachable') } })
    })

    // Found by http2-fuzz (seed 991006): the head went out with nothing after it, or not at all.
    it('an upstream that resets its stream in the same read as its headers is the gateway’s 502, not a connection closed without a status', async () => {
      for (let i = 0; i < 5; i++) {
        const r = await h1Request('resetting', `/reset-${i}`)
        expect(r.status).toBe(502)
        expect(JSON.parse(r.body)).toMatchObject({ error: { code: 502, status: 'BAD_GATEWAY', message: expect.stringContaining('projects/my-project/services/resetting is unreachable') } })
      }
    })
  })

  describe('header blocks', () => {
    // node:http2 does not send a header block over 64 KB: the stream closed as refused, was sent
    // again three times, and the caller got a 502 saying the upstream was unreachable.
    it('headers too large for the hop to an HTTP/2 upstream (64 KB) are the caller’s 431, from HTTP/1.1 and HTTP/2 alike, and never reach it', async () => {
      const before = h2c.seen.length
      for (const r of [await h1Request('h2c', '/big-h1', { headers: bigHeaders(80) }), await h2Request('h2c', '/big-h2', undefined, bigHeaders(80))]) {
        expect(r.status, r.body).toBe(431)
        expect(JSON.parse(r.body)).toMatchObject({ error: { code: 431, status: 'REQUEST_HEADER_FIELDS_TOO_LARGE', message: expect.stringContaining('which speaks HTTP/2: at most 64 KB') } })
      }
      expect(h2c.seen.length).toBe(before)
      expect((await h1Request('h2c', '/big-enough', { headers: bigHeaders(40) })).status).toBe(200)
      expect((await h2Request('h2c', '/big-enough', undefined, bigHeaders(40))).status).toBe(200)
    })
  })

  describe('refused streams', () => {
    it('a refused bodiless request is sent again and answered', async () => {
      expect(await h2Request('h2c', '/refuse/get')).toEqual({ status: 200, body: answerFor(Buffer.alloc(0)) })
      expect(streamsFor('/refuse/get')).toEqual([{ refused: true, length: 0 }, { refused: false, length: 0 }])
    })

    it('a refused request is sent again with all of its body, byte for byte', async () => {
      const data = randomBytes(40 * 1024)
      expect(await h2Request('h2c', '/refuse/post-40k', data)).toEqual({ status: 200, body: answerFor(data) })
      expect(streamsFor('/refuse/post-40k')).toEqual([{ refused: true, length: data.length }, { refused: false, length: data.length }])
    })

    it('a request refused three times running is sent a fourth time, and answered', async () => {
      expect(await h2Request('h2c', '/refuse-3/get')).toEqual({ status: 200, body: answerFor(Buffer.alloc(0)) })
      expect(streamsFor('/refuse-3/get')).toEqual([...Array(3).fill({ refused: true, length: 0 }), { refused: false, length: 0 }])
    })

    it('an upstream that refuses every stream gets it four times, no more: then the refusal is the gateway’s 502', async () => {
      const r = await h2Request('h2c', '/refuse-9/get')
      expect(r.status).toBe(502)
      expect(JSON.parse(r.body)).toMatchObject({ error: { code: 502, status: 'BAD_GATEWAY' } })
      expect(streamsFor('/refuse-9/get')).toEqual(Array(4).fill({ refused: true, length: 0 }))
      const h1 = await h1Request('h2c', '/refuse-9/h1-post', { body: Buffer.from('once') })
      expect(h1.status).toBe(502)
      expect(streamsFor('/refuse-9/h1-post')).toEqual(Array(4).fill({ refused: true, length: 4 }))
    })

    it('a body past 64 KiB is not kept to send again: the refusal is the gateway’s 502, and the request went once', async () => {
      const r = await h2Request('h2c', '/refuse/post-100k', randomBytes(100 * 1024))
      expect(r.status).toBe(502)
      expect(JSON.parse(r.body)).toMatchObject({ error: { code: 502, status: 'BAD_GATEWAY' } })
      expect(streamsFor('/refuse/post-100k')).toEqual([{ refused: true, length: 100 * 1024 }])
    })

    it('a gRPC server that retires its connections every 100 ms (GOAWAY) fails no call', async () => {
      const client = echoClient(`127.0.0.1:${p.gatewayPort}`, host('aging'), ca)
      const failures: string[] = []
      let next = 0
      await Promise.all(
        Array.from({ length: 20 }, async () => {
          while (next++ < 1500) {
            const r = await say(client, 'hi', bearer(token))
            if (!r.ok) failures.push(`${r.code}: ${r.details}`)
          }
        }),
      )
      client.close()
      expect(failures).toEqual([])
      // The gateway's calls came over several connections, each retired in turn.
      expect(new Set(aging.seen.map((s) => s.peer)).size).toBeGreaterThanOrEqual(3)
    })
  })
})
