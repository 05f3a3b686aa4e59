import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { seeded } from '../support/h2-fuzz.js'
import { nginxHolds } from '../support/nginx-holds.js'
import { converse, framedResponses, type FramedResponse } from '../support/raw-http.js'
import { DATA_PLANES, startPostern, type PosternProcess } from '../support/server.js'
import { startUpstream } from '../support/upstream.js'

/** Fixed, so CI sends the same pipelines every time; others with POSTERN_FUZZ_SEED=n. */
const SEED = Number(process.env.POSTERN_FUZZ_SEED ?? 20261206)
const CONNECTIONS = Number(process.env.POSTERN_FUZZ_CONNECTIONS ?? 300)
const AT_ONCE = 20

/** One request of a pipeline, and how its answer is known. */
interface Ask {
  kind: string
  bytes: string
  method: string
  answers: (r: FramedResponse) => boolean
  /** Nothing is answered after it: it ends the connection or switches protocols. */
  last?: boolean
}

/**
 * Pipelines of well-formed requests, seeded, on both data planes: requests the upstream answers
 * at once and slowly, with bodies framed every way, HEAD, Expect: 100-continue, an upgrade to h2c
 * (served as a plain request), refusals (no token, a bad signature, no such service) and, last,
 * one that ends the connection (`Connection: close`, HTTP/1.0, TRACE, CONNECT) or switches it (a
 * WebSocket upgrade). Each request is answered once, in the order sent, with its own answer (the
 * upstream echoes a marker), whatever waits on the upstream or a signature check before it. (The
 * Node gateway answered a CONNECT or an upgrade before the requests ahead of it, and lost their
 * answers.)
 */
describe.each(DATA_PLANES)('pipelined requests are answered in order (%s data plane)', (dataPlane) => {
  let p: PosternProcess
  let upstream: Awaited<ReturnType<typeof startUpstream>>
  let host: string
  let token: string

  beforeAll(async () => {
    upstream = await startUpstream()
    p = await startPostern({ dataPlane })
    expect((await p.cli(['services', 'create', 'web', `--upstream=${upstream.url}`])).code).toBe(0)
    // nginx reloads for the new service: its retiring workers answer the request in hand with
    // `Connection: close` and drop what was pipelined behind it (as any nginx reload does), which
    // a pipeline sent meanwhile would count as unanswered.
    if (dataPlane === 'nginx') await nginxHolds(p, 'web')
    token = await p.ownerIdToken()
    host = `web.my-project.localhost:${p.gatewayPort}`
  })
  afterAll(async () => {
    await Promise.all([p?.stop(), upstream?.close()])
  })

  it(`${CONNECTIONS} connections of pipelined requests: each answered once, in order, with its own answer`, async () => {
    const rand = seeded(SEED)
    const wrong: string[] = []
    const kinds = new Map<string, number>()
    for (let sent = 0; sent < CONNECTIONS; sent += AT_ONCE) {
      const batch = Array.from({ length: AT_ONCE }, (_, i) => pipeline(rand, `${sent + i}`, { host, token }))
      await Promise.all(
        batch.map(async (asks) => {
          const bytes = Buffer.from(asks.map((a) => a.bytes).join(''), 'latin1')
          const methods = asks.map((a) => a.method)
          const answer = await converse(p.gatewayPort, split(rand, bytes), (read) => finalAnswers(read, methods).length >= asks.length)
          const answers = finalAnswers(answer, methods)
          const mismatch = asks.findIndex((ask, i) => !answers[i] || !ask.answers(answers[i]!))
          for (const ask of asks) kinds.set(ask.kind, (kinds.get(ask.kind) ?? 0) + 1)
          if (mismatch >= 0 || answers.length !== asks.length) {
            wrong.push(`asked ${asks.map((a) => a.kind).join(', ')}; answered ${answers.map((r) => r.status).join(', ')} (the ${mismatch >= 0 ? asks[mismatch]!.kind : 'extra'} one wrong):\n${answer.slice(0, 800)}`)
          }
        }),
      )
    }
    expect(wrong.slice(0, 3)).toEqual([])
    // Every kind was asked often (one that ends a pipeline, in about one connection of 15), and
    // the upstream saw the requests it was to answer.
    for (const kind of KINDS) expect(kinds.get(kind) ?? 0, kind).toBeGreaterThan(CONNECTIONS / 40)
    expect(upstream.seen.length).toBeGreaterThan(CONNECTIONS)
  }, 180_000)
})

const KINDS = ['get', 'slow', 'head', 'post', 'chunked', 'expect', 'h2c', 'no token', 'bad signature', 'no such service', 'trace', 'close', 'http/1.0', 'connect', 'websocket'] as const

/** 1 to 6 requests; a request that ends the connection or switches it only last. */
function pipeline(rand: () => number, connection: string, o: { host: string; token: string }): Ask[] {
  const count = 1 + Math.floor(rand() * 6)
  const asks: Ask[] = []
  for (let i = 0; i < count; i++) {
    const ask = request(KINDS[Math.floor(rand() * KINDS.length)]!, `${connection}-${i}`, rand, o)
    if (ask.last && i < count - 1) {
      i--
      continue
    }
    asks.push(ask)
  }
  return asks
}

function request(kind: (typeof KINDS)[number], n: string, rand: () => number, o: { host: string; token: string }): Ask {
  const head = (method: string, path: string, headers = '', token = o.token, host = o.host) =>
    `${method} ${path} HTTP/1.1\r\nHost: ${host}\r\n${token ? `Authorization: Bearer ${token}\r\n` : ''}${headers}\r\n`
  const echoed = (status: number) => (r: FramedResponse) => r.status === status && r.body.includes(`"url":"/echo?n=${n}"`)
  const refused = (status: number) => (r: FramedResponse) => r.status === status && r.body.includes(`"code":${status}`)
  const body = 'b'.repeat(Math.floor(rand() * 3000))
  switch (kind) {
    case 'get':
      return { kind, method: 'GET', bytes: head('GET', `/echo?n=${n}`), answers: echoed(200) }
    case 'slow':
      return { kind, method: 'GET', bytes: head('GET', `/slow?ms=${Math.floor(rand() * 120)}&n=${n}`), answers: (r) => r.status === 200 && r.body === 'slow' }
    case 'head':
      return { kind, method: 'HEAD', bytes: head('HEAD', `/echo?n=${n}`), answers: (r) => r.status === 200 && r.body === '' }
    case 'post':
      return { kind, method: 'POST', bytes: head('POST', `/echo?n=${n}`, `Content-Length: ${body.length}\r\n`) + body, answers: echoed(200) }
    case 'chunked': {
      const cut = Math.floor(body.length / 2)
      const chunks = [body.slice(0, cut), body.slice(cut)].filter((c) => c.length > 0)
      return { kind, method: 'POST', bytes: head('POST', `/echo?n=${n}`, 'Transfer-Encoding: chunked\r\n') + chunks.map((c) => `${c.length.toString(16)}\r\n${c}\r\n`).join('') + '0\r\n\r\n', answers: echoed(200) }
    }
    case 'expect':
      return { kind, method: 'POST', bytes: head('POST', `/echo?n=${n}`, `Expect: 100-continue\r\nContent-Length: ${body.length}\r\n`) + body, answers: echoed(200) }
    // Served as the plain request it also is, never switched.
    case 'h2c':
      return { kind, method: 'GET', bytes: head('GET', `/echo?n=${n}`, 'Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n'), answers: echoed(200) }
    case 'no such service':
      return { kind, method: 'GET', bytes: head('GET', `/echo?n=${n}`, '', o.token, o.host.replace('web.', 'nowhere.')), answers: refused(404) }
    case 'no token':
      return { kind, method: 'GET', bytes: head('GET', `/echo?n=${n}`, '', ''), answers: refused(401) }
    case 'bad signature':
      return { kind, method: 'GET', bytes: head('GET', `/echo?n=${n}`, '', `${o.token.slice(0, o.token.lastIndexOf('.'))}.${'A'.repeat(342)}`), answers: refused(401) }
    case 'trace':
      // Refused for its shape, as CONNECT is: both planes end the connection with the answer.
      return { kind, method: 'TRACE', bytes: head('TRACE', `/echo?n=${n}`), answers: refused(405), last: true }
    case 'close':
      return { kind, method: 'GET', bytes: head('GET', `/echo?n=${n}`, 'Connection: close\r\n'), answers: echoed(200), last: true }
    // Its answer is not chunked (HTTP/1.0 has no chunks): the connection ends with it.
    case 'http/1.0':
      return { kind, method: 'GET', bytes: head('GET', `/echo?n=${n}`).replace(' HTTP/1.1\r\n', ' HTTP/1.0\r\n'), answers: echoed(200), last: true }
    case 'connect':
      return { kind, method: 'CONNECT', bytes: head('CONNECT', `/echo?n=${n}`), answers: refused(405), last: true }
    case 'websocket':
      return {
        kind,
        method: 'GET',
        bytes: head('GET', `/ws?n=${n}`, 'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n'),
        answers: (r) => r.status === 101,
        last: true,
      }
  }
}

/** The answers but the interim ones (100 Continue); a 101 is final. */
const finalAnswers = (answer: string, methods: readonly string[]) => framedResponses(answer, methods).filter((r) => r.status >= 200 || r.status === 101)

/** The bytes in 1 to 3 packets, cut anywhere. */
function split(rand: () => number, bytes: Buffer): Buffer[] {
  const cuts = [Math.floor(rand() * bytes.length), Math.floor(rand() * bytes.length)].slice(0, Math.floor(rand() * 3)).sort((a, b) => a - b)
  return [0, ...cuts, bytes.length].slice(1).map((end, i, ends) => bytes.subarray(i === 0 ? 0 : ends[i - 1], end)).filter((b) => b.length > 0)
}
