import { createHash, randomBytes } from 'node:crypto'
import http2 from 'node:http2'
import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventually } from '../support/eventually.js'
import { bearer, echoClient, say, startGrpcUpstream } from '../support/grpc-upstream.js'
import { startRefusingH2Upstream } from '../support/refusing-h2-upstream.js'
import { selfSignedCertificate } from '../support/self-signed.js'
import { DATA_PLANES, startPostern, type PosternProcess } from '../support/server.js'

/**
 * An HTTP/2 upstream that refuses a stream (REFUSED_STREAM, as every stream its GOAWAY leaves out
 * when it retires a connection) has processed none of it, so the gateway sends it again, once,
 * with the request body it had sent (up to 64 KiB): the caller never sees the refusal. The Node
 * plane is called over h2c; the nginx plane over TLS, which hands HTTP/2 streams to Postern.
 */
describe.each(DATA_PLANES)('HTTP/2 upstreams that refuse streams (%s data plane)', (dataPlane) => {
  let p: PosternProcess
  let refusing: Awaited<ReturnType<typeof startRefusingH2Upstream>>
  let aging: Awaited<ReturnType<typeof startGrpcUpstream>>
  let token: string
  let ca: Buffer | undefined
  const host = (service: string) => `${service}.my-project.localhost:${p.gatewayPort}`
  const origin = () => `${ca ? 'https' : 'http'}://127.0.0.1:${p.gatewayPort}`

  beforeAll(async () => {
    const tls = dataPlane === 'nginx' ? selfSignedCertificate() : undefined
    const env = tls ? { NODE_EXTRA_CA_CERTS: tls.cert } : undefined
    ca = tls && readFileSync(tls.cert)
    refusing = await startRefusingH2Upstream()
    aging = await startGrpcUpstream({ maxConnectionAgeMs: 100 })
    p = await startPostern({ dataPlane, ...(tls && { args: ['--tls-cert', tls.cert, '--tls-key', tls.key], env }) })
    for (const [name, url] of [['refusing', refusing.url], ['aging', aging.url]]) {
      const created = await p.cli(['services', 'create', name!, `--upstream=${url}`, '--use-http2'], { env })
      expect(created.code, created.stderr).toBe(0)
    }
    token = (await p.cli(['auth', 'print-identity-token'], { env })).stdout.trim()
    expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/)
    // The nginx plane learns of new services within moments.
    await eventually(15_000, async () => (await request('refusing', '/ready')).status === 200, 'the gateway answering for the new services')
  })
  afterAll(async () => {
    await p?.stop()
    await Promise.all([refusing?.close(), aging?.close()])
  })

  /** One request over a connection of its own, with Node's http2 client. */
  async function request(service: string, path: string, body?: Buffer): Promise<{ status: number; body: string }> {
    const client = http2.connect(origin(), ca ? { ca } : {})
    client.on('error', () => undefined)
    try {
      const stream = client.request({ ':method': body ? 'POST' : 'GET', ':path': path, ':authority': host(service), authorization: `Bearer ${token}` }, { endStream: !body })
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

  const streamsFor = (path: string) => refusing.seen.filter((s) => s.path === path).map((s) => ({ refused: s.refused, length: s.length }))
  const digest = (b: Buffer) => createHash('sha256').update(b).digest('hex')

  it('a refused bodiless request is sent again and answered', async () => {
    expect(await request('refusing', '/get')).toEqual({ status: 200, body: JSON.stringify({ sha256: digest(Buffer.alloc(0)), length: 0 }) })
    expect(streamsFor('/get')).toEqual([{ refused: true, length: 0 }, { refused: false, length: 0 }])
  })

  it('a refused request is sent again with all of its body, byte for byte', async () => {
    const data = randomBytes(40 * 1024)
    expect(await request('refusing', '/post-40k', data)).toEqual({ status: 200, body: JSON.stringify({ sha256: digest(data), length: data.length }) })
    expect(streamsFor('/post-40k')).toEqual([{ refused: true, length: data.length }, { refused: false, length: data.length }])
  })

  it('a body past 64 KiB is not kept to send again: the refusal is the gateway’s 502, and the request went once', async () => {
    const r = await request('refusing', '/post-100k', randomBytes(100 * 1024))
    expect(r.status).toBe(502)
    expect(JSON.parse(r.body)).toMatchObject({ error: { code: 502, status: 'BAD_GATEWAY' } })
    expect(streamsFor('/post-100k')).toEqual([{ refused: true, length: 100 * 1024 }])
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
