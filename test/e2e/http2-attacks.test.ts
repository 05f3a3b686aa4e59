import { readFileSync } from 'node:fs'
import https from 'node:https'
import http2 from 'node:http2'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bigHeaders, h2Ask } from '../support/h2-ask.js'
import { ERROR, FLAG, FRAME, frame, goaway, goawayCode, headerBlock, rawH2, rstCodes, rstStream, type Received } from '../support/h2-frames.js'
import { rawGet } from '../support/raw-http.js'
import { selfSignedCertificate } from '../support/self-signed.js'
import { DATA_PLANES, startPostern, type PosternProcess } from '../support/server.js'
import { startUpstream } from '../support/upstream.js'
import { eventually } from '../support/eventually.js'


/**
 * The HTTP/2 counterparts of the gateway's attack table (gateway-attacks.test.ts): frames no
 * client library would send, written by hand. Each attack is refused — the stream or the session
 * ended — and the gateway keeps serving everyone else, over HTTP/2 and HTTP/1.1. The Node plane
 * takes HTTP/2 over h2c; the nginx plane over TLS, where nginx reads the frames itself.
 */
describe.each(DATA_PLANES)('HTTP/2 attacks on the gateway (%s data plane)', (dataPlane) => {
  let p: PosternProcess
  let upstream: Awaited<ReturnType<typeof startUpstream>>
  let authority: string
  let token: string
  const tls = dataPlane === 'nginx' ? selfSignedCertificate() : undefined
  const ca = tls && readFileSync(tls.cert)
  const scheme = tls ? 'https' : 'http'
  const raw = (o: { settingsAckDelayMs?: number } = {}) => rawH2(p.gatewayPort, { ...o, ca })

  /** An honest HTTP/2 request from node:http2, on its own connection: its status, within 5 s. */
  const honestH2 = () =>
    new Promise<unknown>((resolve) => {
      const session = http2.connect(`${scheme}://127.0.0.1:${p.gatewayPort}`, ca ? { ca } : {})
      session.on('error', (err) => resolve(err.message))
      const req = session.request({ ':authority': authority, ':path': '/echo', authorization: `Bearer ${token}` })
      const timer = setTimeout(() => resolve('timeout'), 5_000)
      req.on('response', (h) => {
        clearTimeout(timer)
        resolve(h[':status'])
        session.close()
      })
      req.on('error', (err) => resolve(err.message))
      req.resume()
    })
  const honestH1 = async () => {
    if (!ca) return (await rawGet(p.gatewayPort, authority, [`Authorization: Bearer ${token}`], '/echo')).status
    return new Promise<unknown>((resolve) => {
      const req = https.get(`https://127.0.0.1:${p.gatewayPort}/echo`, { ca, agent: false, headers: { host: authority, authorization: `Bearer ${token}` } }, (res) => {
        res.resume()
        resolve(res.statusCode)
      })
      req.on('error', (err) => resolve(err.message))
    })
  }
  const request = (streamId: number, extra: [string, string][] = [], flags = FLAG.END_HEADERS | FLAG.END_STREAM, method = 'GET', path = '/echo') =>
    frame(FRAME.HEADERS, flags, streamId, headerBlock([[':method', method], [':scheme', scheme], [':authority', authority], [':path', path], ['authorization', `Bearer ${token}`], ...extra]))
  const statusOf = (frames: Received[], streamId: number) => frames.find((f) => f.type === FRAME.HEADERS && f.streamId === streamId)
  /** SETTINGS_MAX_CONCURRENT_STREAMS (0x3), as the server's SETTINGS frames said it. */
  const maxConcurrentStreams = (frames: Received[]) => {
    let limit: number | undefined
    for (const f of frames) {
      if (f.type !== FRAME.SETTINGS || f.flags & FLAG.ACK) continue
      for (let i = 0; i + 6 <= f.payload.length; i += 6) if (f.payload.readUInt16BE(i) === 0x3) limit = f.payload.readUInt32BE(i + 2)
    }
    return limit
  }

  beforeAll(async () => {
    upstream = await startUpstream()
    const env = tls && { NODE_EXTRA_CA_CERTS: tls.cert }
    p = await startPostern({ dataPlane, ...(tls && { args: ['--tls-cert', tls.cert, '--tls-key', tls.key], env }) })
    expect((await p.cli(['services', 'create', 'web', `--upstream=${upstream.url}`], { env })).code).toBe(0)
    token = (await p.cli(['auth', 'print-identity-token'], { env })).stdout.trim()
    authority = `web.my-project.localhost:${p.gatewayPort}`
    // The nginx plane learns of new services within moments.
    await eventually(15_000, async () => (await honestH2()) === 200, 'the gateway answering for the new service')
  })
  afterAll(async () => {
    await Promise.all([p?.stop(), upstream?.close()])
  })

  it('a raw connection is served (the frames below are well formed)', async () => {
    const c = await raw()
    c.send(request(1))
    await eventually(5_000, () => statusOf(c.frames, 1) !== undefined, 'an answer on stream 1', 20)
    c.socket.destroy()
  })

  it('an oversized header list (over 256 KB, in CONTINUATION frames) is refused, and others are served meanwhile', async () => {
    const c = await raw()
    const block = headerBlock([[':method', 'GET'], [':scheme', scheme], [':authority', authority], [':path', '/echo'], ['authorization', `Bearer ${token}`], ...Array.from({ length: 40 }, (_, i): [string, string] => [`x-big-${i}`, 'a'.repeat(8_000)])])
    const chunks: Buffer[] = []
    for (let i = 0; i < block.length; i += 16_384) chunks.push(block.subarray(i, i + 16_384))
    c.send(frame(FRAME.HEADERS, chunks.length === 1 ? FLAG.END_HEADERS | FLAG.END_STREAM : FLAG.END_STREAM, 1, chunks[0]))
    for (let i = 1; i < chunks.length; i++) c.send(frame(FRAME.CONTINUATION, i === chunks.length - 1 ? FLAG.END_HEADERS : 0, 1, chunks[i]))
    const before = upstream.seen.length
    await eventually(5_000, () => rstCodes(c.frames).length > 0 || goaway(c.frames) !== undefined || c.socket.destroyed || statusOf(c.frames, 1) !== undefined, 'an answer, a reset or GOAWAY on stream 1', 20)
    await new Promise((r) => setTimeout(r, 200))
    expect(upstream.seen.length).toBe(before)
    expect(await honestH2()).toBe(200)
    expect(await honestH1()).toBe(200)
    c.socket.destroy()
  })

  // nginx hands HTTP/2 streams to Postern in 16 KB frames, and Postern's nghttp2 takes nine at
  // most for one header block: a list of 200 KB ended that hop, and the caller got a 503 saying
  // Postern could not be reached (NGINX_H2_HEADER_BYTES).
  it.runIf(dataPlane === 'nginx')('a header list over what the hop to Postern carries (128 KB) is the gateway’s 431, not a 503; one under it is served', async () => {
    const bigRequest = (kb: number, fill: string) => h2Ask(`${scheme}://127.0.0.1:${p.gatewayPort}`, { ':authority': authority, ':path': '/echo', authorization: `Bearer ${token}`, ...bigHeaders(kb, fill) }, { ca })
    const before = upstream.seen.length
    // '~' has no shorter Huffman code: sent as it is, the heaviest list under the bound.
    expect((await bigRequest(120, '~')).status).toBe(200)
    expect((await bigRequest(120, 'a')).status).toBe(200)
    expect(upstream.seen.length - before).toBe(2)
    for (const kb of [140, 200, 300]) {
      const r = await bigRequest(kb, 'a')
      expect(r.status, `${kb} KB`).toBe(431)
      expect(JSON.parse(r.body)).toMatchObject({ error: { code: 431, status: 'REQUEST_HEADER_FIELDS_TOO_LARGE' } })
    }
    expect(upstream.seen.length - before).toBe(2)
    expect(await honestH2()).toBe(200)
  })

  it('more header fields than allowed are refused', async () => {
    const c = await raw()
    const many = Array.from({ length: 2_100 }, (_, i): [string, string] => [`x-h${i}`, 'v'])
    const block = headerBlock([[':method', 'GET'], [':scheme', scheme], [':authority', authority], [':path', '/echo'], ...many])
    const chunks: Buffer[] = []
    for (let i = 0; i < block.length; i += 16_384) chunks.push(block.subarray(i, i + 16_384))
    c.send(frame(FRAME.HEADERS, chunks.length === 1 ? FLAG.END_HEADERS | FLAG.END_STREAM : FLAG.END_STREAM, 1, chunks[0]))
    for (let i = 1; i < chunks.length; i++) c.send(frame(FRAME.CONTINUATION, i === chunks.length - 1 ? FLAG.END_HEADERS : 0, 1, chunks[i]))
    const before = upstream.seen.length
    await eventually(5_000, () => rstCodes(c.frames).length > 0 || goaway(c.frames) !== undefined || c.socket.destroyed || statusOf(c.frames, 1) !== undefined, 'an answer, a reset or GOAWAY on stream 1', 20)
    expect(upstream.seen.length).toBe(before)
    expect(await honestH2()).toBe(200)
    c.socket.destroy()
  })

  it('a CONTINUATION flood (a header block that never ends) ends the session, without the gateway buffering it', async () => {
    const c = await raw()
    c.send(frame(FRAME.HEADERS, FLAG.END_STREAM, 1, headerBlock([[':method', 'GET'], [':scheme', scheme], [':authority', authority], [':path', '/echo']])))
    const filler = headerBlock([['x-filler', 'f'.repeat(100)]])
    let sent = 0
    const flood = setInterval(() => {
      for (let i = 0; i < 200 && !c.socket.destroyed; i++) {
        c.send(frame(FRAME.CONTINUATION, 0, 1, filler))
        sent++
      }
    }, 5)
    await eventually(10_000, () => goaway(c.frames) !== undefined || c.socket.destroyed, 'GOAWAY or the connection closed', 20).finally(() => clearInterval(flood))
    expect(sent).toBeLessThan(100_000)
    expect(await honestH2()).toBe(200)
    expect(await honestH1()).toBe(200)
    c.socket.destroy()
  })

  it('rapid reset (CVE-2023-44487): streams opened and reset at once end the session with GOAWAY, and the gateway keeps serving', async () => {
    const c = await raw()
    const before = upstream.seen.length
    let streamId = 1
    const burst = () => {
      const out: Buffer[] = []
      for (let i = 0; i < 500; i++, streamId += 2) out.push(request(streamId), rstStream(streamId, ERROR.CANCEL))
      c.send(Buffer.concat(out))
    }
    for (let i = 0; i < 20 && !c.socket.destroyed && !goaway(c.frames); i++) {
      burst()
      await new Promise((r) => setTimeout(r, 10))
    }
    await eventually(5_000, () => goaway(c.frames) !== undefined || c.socket.destroyed, 'GOAWAY or the connection closed', 20)
    // The Node plane ends the session as an error; nginx ends it gracefully (NO_ERROR), then closes it.
    if (dataPlane === 'node' && goaway(c.frames)) expect([ERROR.ENHANCE_YOUR_CALM, ERROR.PROTOCOL_ERROR, ERROR.INTERNAL_ERROR]).toContain(goawayCode(c.frames))
    else await eventually(5_000, () => c.socket.destroyed, 'the connection closed', 20)
    // Far fewer requests reached the upstream than were opened.
    expect(upstream.seen.length - before).toBeLessThan(streamId / 2)
    expect(await honestH2()).toBe(200)
    expect(await honestH1()).toBe(200)
    c.socket.destroy()
  }, 20_000)

  it('streams beyond the concurrency limit are refused (REFUSED_STREAM), and a client that keeps trying loses its session', async () => {
    const c = await raw()
    // Requests whose bodies never come keep their streams open: 50 over the limit (the Node
    // plane's 100, nginx's 128), sent before the server's SETTINGS is acknowledged, so that they
    // are refused one frame at a time (past it, nghttp2 ends the session at the first one over).
    const limit = dataPlane === 'node' ? 100 : 128
    let id = 1
    for (; id <= 2 * (limit + 50); id += 2) c.send(request(id, [['content-length', '10']], FLAG.END_HEADERS, 'POST', '/upload'))
    const refused = () => rstCodes(c.frames).filter((code) => code === ERROR.REFUSED_STREAM).length
    await eventually(5_000, () => refused() >= 40, 'forty REFUSED_STREAM resets', 20)
    expect(maxConcurrentStreams(c.frames)).toBe(limit)
    expect(await honestH2()).toBe(200)
    for (let round = 0; round < 20 && !goaway(c.frames) && !c.socket.destroyed; round++) {
      for (let i = 0; i < 20; i++, id += 2) c.send(request(id, [['content-length', '10']], FLAG.END_HEADERS, 'POST', '/upload'))
      await new Promise((r) => setTimeout(r, 20))
    }
    await eventually(5_000, () => goaway(c.frames) !== undefined || c.socket.destroyed, 'GOAWAY or the connection closed', 20)
    expect(await honestH2()).toBe(200)
    expect(await honestH1()).toBe(200)
    c.socket.destroy()
  }, 20_000)

  it('invalid frames end the session (a DATA frame on stream 0, again and again)', async () => {
    const c = await raw()
    c.send(frame(FRAME.DATA, 0, 0, Buffer.from('x')))
    await eventually(5_000, () => goaway(c.frames) !== undefined || c.socket.destroyed, 'GOAWAY or the connection closed', 20)
    expect(await honestH2()).toBe(200)
    c.socket.destroy()
  })

  /**
   * Found by fuzzing: Node 20.20 closes a session gracefully on a client's GOAWAY, and two bugs on
   * that path aborted the whole process when the GOAWAY shared a packet with frames after it.
   * Postern ends the session itself once the client's streams are done instead (src/http/http2/client-goaway.ts).
   */
  const clientGoaway = frame(FRAME.GOAWAY, 0, 0, Buffer.alloc(8))
  const malformed: [string, Buffer][] = [
    ['a PING of 7 bytes', frame(FRAME.PING, 0, 0, Buffer.alloc(7))],
    ['an RST_STREAM of 3 bytes', frame(FRAME.RST_STREAM, 0, 1, Buffer.alloc(3))],
    ['a WINDOW_UPDATE of 3 bytes', frame(FRAME.WINDOW_UPDATE, 0, 0, Buffer.alloc(3))],
    ['a SETTINGS of 5 bytes', frame(FRAME.SETTINGS, 0, 0, Buffer.alloc(5))],
  ]
  it.each(malformed)('a GOAWAY, a new stream and %s in one packet end that session, not the process (nghttp2 assertion)', async (_, bad) => {
    const c = await raw()
    c.send(Buffer.concat([clientGoaway, request(1), bad]))
    await eventually(5_000, () => c.socket.destroyed || goaway(c.frames) !== undefined, 'GOAWAY or the connection closed', 20)
    c.socket.destroy()
    expect(await honestH2()).toBe(200)
  })

  it('the same packet after a stream of its own was answered ends only that session', async () => {
    const c = await raw()
    c.send(request(1))
    await eventually(5_000, () => statusOf(c.frames, 1) !== undefined, 'an answer on stream 1', 20)
    c.send(Buffer.concat([clientGoaway, request(3), frame(FRAME.PING, 0, 0, Buffer.alloc(7))]))
    await eventually(5_000, () => c.socket.destroyed || goaway(c.frames) !== undefined, 'GOAWAY or the connection closed', 20)
    c.socket.destroy()
    expect(await honestH2()).toBe(200)
    expect(await honestH1()).toBe(200)
  })

  // The cases below are about Node's own handling of a client's GOAWAY (src/http/http2/client-goaway.ts),
  // which nginx does not share: on the nginx plane they only wait for its keep-alive timeout.
  it.runIf(dataPlane === 'node')('a GOAWAY and two new streams in one packet, from 1,000 connections, do not corrupt the heap (nodejs/node#64113)', async () => {
    const packet = Buffer.concat([clientGoaway, request(1), request(3)])
    for (let sent = 0; sent < 1_000; sent += 20) {
      await Promise.all(
        Array.from({ length: 20 }, async () => {
          const c = await raw().catch(() => undefined)
          if (!c) return
          c.send(packet)
          await Promise.race([c.closed, new Promise((r) => setTimeout(r, 30))])
          c.socket.destroy()
        }),
      )
    }
    expect(await honestH2()).toBe(200)
    expect(await honestH1()).toBe(200)
  }, 60_000)

  it.runIf(dataPlane === 'node')("a client's GOAWAY does not cut short its request in flight, streams it opens after are served, and then the connection ends", async () => {
    const c = await raw()
    c.send(request(1, [], FLAG.END_HEADERS | FLAG.END_STREAM, 'GET', '/slow?ms=300'))
    c.send(clientGoaway)
    c.send(request(3))
    await eventually(5_000, () => statusOf(c.frames, 1) !== undefined && statusOf(c.frames, 3) !== undefined, 'answers on streams 1 and 3', 20)
    expect(rstCodes(c.frames)).toEqual([])
    // The client waits for the server to close (Node's client does, to complete close()): it
    // must not wait for the idle timeout.
    await eventually(10_000, () => c.socket.destroyed, 'the server to end the connection', 20)
    expect(goawayCode(c.frames)).toBe(0)
  })

  it.runIf(dataPlane === 'node')("a client's GOAWAY on a connection with nothing in flight ends it at once", async () => {
    const c = await raw()
    c.send(request(1))
    await eventually(5_000, () => statusOf(c.frames, 1) !== undefined, 'an answer on stream 1', 20)
    c.send(clientGoaway)
    await eventually(10_000, () => c.socket.destroyed, 'the server to end the connection', 20)
    expect(goawayCode(c.frames)).toBe(0)
  })

  it('the process is still the same one, alive and ready', async () => {
    expect(await honestH1()).toBe(200)
    expect(p.output()).not.toMatch(/uncaught|FATAL|heap out of memory/i)
  })
})
