import { createHash, randomBytes } from 'node:crypto'
import { lookup } from 'node:dns/promises'
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DATA_PLANES, startPostern, type PosternProcess } from '../support/server.js'
import { invokerOf } from '../support/sign-in.js'
import { startUpstream } from '../support/upstream.js'

/**
 * A name scripts/setup-test-machine.sh puts in /etc/hosts: first an address nothing listens on,
 * then the upstream's (glibc keeps that order: both are as far from the source address, 127.0.0.1).
 */
const TWO_ADDRESSES = 'postern-two-addresses.test'

/**
 * An upstream named by a host with several addresses, the first of which refuses connections:
 * the request goes to the next one, body and all, as a client would, on both data planes (the
 * nginx plane's balancer tries the addresses Postern resolved, in order; nginx-lua-balancer.ts).
 */
describe.each(DATA_PLANES)('an upstream whose first address is down (%s data plane)', (dataPlane) => {
  let p: PosternProcess
  let upstream: Awaited<ReturnType<typeof startUpstream>>
  let host: string
  let token: string

  beforeAll(async () => {
    const addresses = (await lookup(TWO_ADDRESSES, { all: true }).catch(() => [])).map((a) => a.address)
    if (addresses.join(' ') !== '127.0.0.2 127.0.0.3') throw new Error(`${TWO_ADDRESSES} resolves to [${addresses.join(', ')}], not [127.0.0.2, 127.0.0.3]: run scripts/setup-test-machine.sh as root`)
    upstream = await startUpstream(undefined, '127.0.0.3')
    p = await startPostern({ dataPlane })
    const invoker = await invokerOf(p, 'app', `http://${TWO_ADDRESSES}:${upstream.port}`)
    host = invoker.host
    token = invoker.token
  })
  afterAll(async () => {
    await p?.stop()
    await upstream?.close()
  })

  const call = (path: string, o: { method?: 'GET' | 'POST'; body?: Buffer } = {}) =>
    request(`http://127.0.0.1:${p.gatewayPort}${path}`, { method: o.method ?? 'GET', body: o.body, headers: { host, authorization: `Bearer ${token}` } })

  it('reaches the upstream at its second address, again and again', async () => {
    await expect.poll(async () => {
      const res = await call('/echo')
      await res.body.dump()
      return res.statusCode
    }, { timeout: 15_000 }).toBe(200)
    const before = upstream.seen.length
    for (let i = 0; i < 5; i++) {
      const res = await call(`/echo?i=${i}`)
      expect(res.statusCode).toBe(200)
      await res.body.dump()
    }
    expect(upstream.seen.slice(before).map((s) => s.url)).toEqual([0, 1, 2, 3, 4].map((i) => `/echo?i=${i}`))
  })

  it('sends a request body whole to the second address (a POST is tried again only because nothing was sent)', async () => {
    const body = randomBytes(2 * 1024 * 1024)
    const res = await call('/upload', { method: 'POST', body })
    expect(res.statusCode).toBe(200)
    expect(await res.body.json()).toEqual({ sha256: createHash('sha256').update(body).digest('hex'), length: body.length })
  })
})
