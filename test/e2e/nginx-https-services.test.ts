import { spawnSync } from 'node:child_process'
import { lookup } from 'node:dns/promises'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import type { TLSSocket } from 'node:tls'
import { join } from 'node:path'
import { Agent, request, type Dispatcher } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { lastProbe } from '../support/eventually.js'
import { keptAliveCallers } from '../support/kept-alive-callers.js'
import { selfSignedCertificate } from '../support/self-signed.js'
import { startPostern, type PosternProcess } from '../support/server.js'

/** A name scripts/setup-test-machine.sh puts in /etc/hosts for 127.0.0.1, beside localhost. */
const SAME_ADDRESS = 'postern-same-address.test'

/** An https upstream on 127.0.0.1 that notes, for each request, the server name its TLS connection was opened for, which connection, and who wrote `Host`. */
async function httpsUpstream(tls: { cert: string; key: string }) {
  const seen: { url: string; host: string; servername: string; connection: number; hostWrittenAs: string }[] = []
  const connections = new WeakMap<object, number>()
  let opened = 0
  const server = createServer({ cert: readFileSync(tls.cert), key: readFileSync(tls.key) }, (req, res) => {
    const socket = req.socket as TLSSocket
    if (!connections.has(socket)) connections.set(socket, ++opened)
    // nginx writes `Host`, Postern's own gateway `host`: which of them forwarded the request.
    seen.push({ url: req.url ?? '', host: req.headers.host ?? '', servername: String(socket.servername), connection: connections.get(socket)!, hostWrittenAs: req.rawHeaders[req.rawHeaders.findIndex((h, i) => i % 2 === 0 && h.toLowerCase() === 'host')] ?? '' })
    req.resume()
    res.end('answered')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const close = () => new Promise<void>((r) => {
    server.close(() => r())
    server.closeAllConnections()
  })
  return { port: (server.address() as AddressInfo).port, seen, close }
}

/**
 * https services on the nginx data plane come and go, change upstream and timeout, without a
 * reload of nginx (whose retiring workers would close the kept-alive connections callers send
 * on), and nginx forwards each itself from its first request; yet no request for one server name
 * ever goes over a TLS connection opened, and its certificate checked, for another.
 */
describe('https services on the nginx data plane', () => {
  let p: PosternProcess
  let upstream: Awaited<ReturnType<typeof httpsUpstream>>
  let other: Awaited<ReturnType<typeof httpsUpstream>>
  const host = (service: string) => `${service}.my-project.localhost:${p.gatewayPort}`
  const get = async (service: string, path: string, dispatcher?: Dispatcher) => {
    const r = await request(`http://127.0.0.1:${p.gatewayPort}${path}`, { dispatcher, headers: { host: host(service) } })
    await r.body.dump()
    return r.statusCode
  }
  const create = async (service: string, upstreamUrl: string, ...flags: string[]) => {
    const r = await p.cli(['services', 'create', service, `--upstream=${upstreamUrl}`, '--allow-unauthenticated', ...flags])
    expect(r.code, r.stderr).toBe(0)
  }

  beforeAll(async () => {
    const addresses = (await lookup(SAME_ADDRESS, { all: true }).catch(() => [])).map((a) => a.address)
    if (addresses.join(' ') !== '127.0.0.1') throw new Error(`${SAME_ADDRESS} resolves to [${addresses.join(', ')}], not [127.0.0.1]: run scripts/setup-test-machine.sh as root`)
    const tls = selfSignedCertificate(`DNS:localhost,DNS:${SAME_ADDRESS}`)
    upstream = await httpsUpstream(tls)
    other = await httpsUpstream(tls)
    p = await startPostern({ dataPlane: 'nginx', env: { NODE_EXTRA_CA_CERTS: tls.cert } })
    await create('first', `https://localhost:${upstream.port}`)
  })
  afterAll(async () => {
    await Promise.all([p?.stop(), upstream?.close(), other?.close()])
  })

  it('never sends a request for one server name over a TLS connection opened for another at the same address, and keeps each alive', async () => {
    await create('by-name', `https://localhost:${upstream.port}`)
    await create('by-other-name', `https://${SAME_ADDRESS}:${upstream.port}`)
    // One connection to nginx, so one worker: it keeps its upstream connections and would reuse one for the other name were they pooled together.
    const agent = new Agent({ connections: 1 })
    try {
      for (let i = 0; i < 20; i++) for (const service of ['by-name', 'by-other-name']) expect(await get(service, `/turn${i}`, agent)).toBe(200)
    } finally {
      await agent.close()
    }
    const turns = upstream.seen.filter((s) => s.url.startsWith('/turn'))
    expect(turns).toHaveLength(40)
    for (const s of turns) expect(s.servername, s.url).toBe(s.host.replace(/:\d+$/, ''))
    expect(new Set(turns.map((s) => s.host.replace(/:\d+$/, '')))).toEqual(new Set(['localhost', SAME_ADDRESS]))
    // nginx itself forwarded them, over connections it kept alive: a few, not one a request.
    expect(turns.every((s) => s.hostWrittenAs === 'Host')).toBe(true)
    expect(new Set(turns.map((s) => s.connection)).size).toBeLessThanOrEqual(4)
  })

  it('creates, re-points, re-times and deletes https services without reloading nginx: callers on kept-alive connections lose nothing, and nginx forwards the new ones itself', async () => {
    const conf = join(p.dataDir, 'nginx', 'nginx.conf')
    const master = readFileSync(join(p.dataDir, 'nginx', 'nginx.pid'), 'utf8').trim()
    const workers = () => spawnSync('pgrep', ['-P', master]).stdout.toString().split('\n').filter(Boolean).sort()
    const before = { config: readFileSync(conf, 'utf8'), workers: workers() }
    // Ten callers, each on one kept-alive connection, for as long as the services change.
    const callers = keptAliveCallers(10, (agent) => get('first', '/steady', agent))
    let outcome: { failures: string[]; answered: number } | undefined
    try {
      const names = ['localhost', SAME_ADDRESS, 'localhost']
      for (let i = 0; i < 3; i++) {
        await create(`tls${i}`, `https://${names[i]}:${upstream.port}`)
        const seen = upstream.seen.length
        expect(await get(`tls${i}`, `/new${i}`)).toBe(200)
        expect(upstream.seen.slice(seen).find((s) => s.url === `/new${i}`)?.hostWrittenAs).toBe('Host')
      }
      expect((await p.cli(['services', 'update', 'tls0', `--upstream=https://localhost:${other.port}`])).code).toBe(0)
      await lastProbe(3_000, () => get('tls0', '/moved'), () => other.seen.some((s) => s.url === '/moved'))
      expect(other.seen.find((s) => s.url === '/moved')?.hostWrittenAs).toBe('Host')
      // A timeout of its own (from a minute up, nginx's balancer sets it per request).
      expect((await p.cli(['services', 'update', 'tls1', '--timeout=900'])).code).toBe(0)
      await new Promise((r) => setTimeout(r, 1_100)) // the verdict with the default timeout, out
      const seen = upstream.seen.length
      expect(await get('tls1', '/timed')).toBe(200)
      expect(upstream.seen.slice(seen).find((s) => s.url === '/timed')?.hostWrittenAs).toBe('Host')
      expect((await p.cli(['services', 'delete', 'tls2', '--quiet'])).code).toBe(0)
      expect(await lastProbe(3_000, () => get('tls2', '/'), (s) => s === 404)).toBe(404)
      // Long enough for a reload, had there been one, to have retired the workers.
      await new Promise((r) => setTimeout(r, 500))
    } finally {
      outcome = await callers.stop()
    }
    expect(outcome.failures).toEqual([])
    expect(outcome.answered).toBeGreaterThan(100)
    expect(readFileSync(conf, 'utf8')).toBe(before.config)
    expect(workers()).toEqual(before.workers)
  })
})
