import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rawGet } from '../support/raw-http.js'
import { freePort } from '../support/ports.js'
import { startPostern, type PosternProcess } from '../support/server.js'
import { startUpstream } from '../support/upstream.js'

/**
 * A gateway URL that is an IPv4 address (`--gateway-url http://127.0.0.1:PORT`, for a machine
 * with no names to give): services are reached with their name as Host (`hello.my-project.127.0.0.1:PORT`),
 * which is no URL host (a name may not end in a number), so nothing may parse it as one.
 */
describe('services under a gateway URL that is an IP address', () => {
  let p: PosternProcess
  let upstream: Awaited<ReturnType<typeof startUpstream>>
  let gatewayPort: number
  beforeAll(async () => {
    upstream = await startUpstream()
    gatewayPort = await freePort()
    p = await startPostern({ gatewayPort, args: ['--gateway-url', `http://127.0.0.1:${gatewayPort}`] })
    expect((await p.cli(['services', 'create', 'hello', `--upstream=${upstream.url}`])).code).toBe(0)
  })
  afterAll(async () => {
    await p?.stop()
    await upstream?.close()
  })

  it('routes by the service name as Host, and tells the upstream that host', async () => {
    const host = `hello.my-project.127.0.0.1:${gatewayPort}`
    const r = await rawGet(gatewayPort, host, [`Authorization: Bearer ${await p.ownerIdToken()}`], '/echo')
    expect(r.status, r.raw.slice(0, 300)).toBe(200)
    expect(upstream.seen.at(-1)!.headers['x-forwarded-host']).toBe(host)
  })
})
