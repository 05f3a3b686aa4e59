import type { ChildProcess } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { startClosingServer, type ClosingServer } from '../support/closing-server.js'
import { freePort } from '../support/ports.js'
import { startPostern, type PosternProcess } from '../support/server.js'
import { startServicesProxy } from '../support/services-proxy.js'
import { startUpstream } from '../support/upstream.js'

/**
 * `postern services proxy` keeps its connections to the gateway alive; a gateway, or a proxy in
 * front of it, closes idle ones (the gateway after 5 s). A request the local proxy sends just as
 * one closes is sent once more on a new connection, as the gateway does with its upstreams
 * (http/resend.ts). Here a relay in front of the gateway closes every kept-alive connection as
 * it is reused, so the race is lost every time.
 */
describe('postern services proxy, when a kept-alive connection to the gateway closes as it is reused', () => {
  let p: PosternProcess
  let upstream: Awaited<ReturnType<typeof startUpstream>>
  let relay: ClosingServer
  let proxy: ChildProcess
  let local: string

  beforeAll(async () => {
    upstream = await startUpstream()
    const gatewayPort = await freePort()
    relay = await startClosingServer('fin', gatewayPort)
    p = await startPostern({ gatewayPort, args: ['--gateway-url', `http://localhost:${relay.port}`] })
    expect((await p.cli(['services', 'create', 'hello', `--upstream=${upstream.url}`])).code).toBe(0)
    expect((await p.cli(['services', 'add-iam-policy-binding', 'hello', '--member=user:owner@example.com', '--role=roles/run.invoker'])).code).toBe(0)
    ;({ url: local, process: proxy } = await startServicesProxy('hello', p.configDir))
  })
  afterAll(async () => {
    proxy?.kill('SIGTERM')
    await p?.stop()
    await relay?.stop()
    await upstream?.close()
  })

  it('answers every bodiless GET, HEAD and DELETE, sending each that met a closing connection once more; never a POST', async () => {
    // Three connections kept alive, so that a request sent once more on any of them would meet another closing one.
    const first = await Promise.all([1, 2, 3].map(() => request(`${local}/echo`)))
    expect(await Promise.all(first.map(async (r) => (await r.body.text()) && r.statusCode))).toEqual([200, 200, 200])
    const statuses: string[] = []
    for (const method of ['GET', 'GET', 'HEAD', 'DELETE', 'GET'] as const) {
      const r = await request(`${local}/echo`, { method })
      await r.body.text()
      statuses.push(`${method} ${r.statusCode}`)
    }
    expect(statuses).toEqual(['GET 200', 'GET 200', 'HEAD 200', 'DELETE 200', 'GET 200'])
    expect(relay.received.length).toBeGreaterThan(relay.answered.length)
    expect(upstream.seen.map((s) => s.method)).toEqual(['GET', 'GET', 'GET', 'GET', 'GET', 'HEAD', 'DELETE', 'GET'])

    // Of two POSTs in a row, one at least meets a connection left open before it: 502, never sent twice.
    const before = relay.received.length
    const posts = [await request(`${local}/echo`, { method: 'POST' }), await request(`${local}/echo`, { method: 'POST' })]
    const refused = posts.find((r) => r.statusCode === 502)
    expect(refused, posts.map((r) => r.statusCode).join()).toBeDefined()
    expect(JSON.parse(await refused!.body.text()).error).toMatchObject({ code: 502, status: 'BAD_GATEWAY' })
    expect(relay.received.slice(before)).toEqual(['POST /echo HTTP/1.1', 'POST /echo HTTP/1.1'])
    expect(upstream.seen.filter((s) => s.method === 'POST')).toHaveLength(posts.filter((r) => r.statusCode === 200).length)
  })
})
