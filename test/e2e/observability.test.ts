import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startPostern, type PosternProcess } from '../support/server.js'
import { startUpstream } from '../support/upstream.js'
import { eventually } from '../support/eventually.js'

/** What operators expect: health, readiness, Prometheus metrics, JSON logs carrying the request id the upstream also sees. */
describe('health, metrics and logs', () => {
  let p: PosternProcess
  let upstream: Awaited<ReturnType<typeof startUpstream>>
  beforeAll(async () => {
    upstream = await startUpstream()
    p = await startPostern({ args: ['--access-log'] })
    expect((await p.cli(['services', 'create', 'open', `--upstream=${upstream.url}`, '--allow-unauthenticated'])).code).toBe(0)
  })
  afterAll(async () => {
    await p?.stop()
    await upstream?.close()
  })

  it('serves /healthz, /readyz and /metrics on the control plane', async () => {
    expect(await (await fetch(`${p.controlUrl}/healthz`)).json()).toEqual({ status: 'ok' })
    const ready = await fetch(`${p.controlUrl}/readyz`)
    expect(ready.status).toBe(200)
    expect(await ready.json()).toMatchObject({ status: 'ready', database: 'ok' })
    const metrics = await fetch(`${p.controlUrl}/metrics`)
    expect(metrics.headers.get('content-type')).toContain('text/plain; version=0.0.4')
    expect(await metrics.text()).toContain('# TYPE postern_change_feed_age_seconds gauge')
  })

  it('passes the caller’s request id to the upstream and logs it with the request', async () => {
    const res = await request(`http://127.0.0.1:${p.gatewayPort}/hello`, { headers: { host: 'open.my-project.localhost', 'x-request-id': 'req-12345' } })
    expect(res.statusCode).toBe(200)
    await res.body.dump()
    expect(upstream.seen.at(-1)!.headers['x-request-id']).toBe('req-12345')
    await eventually(2_000, () => p.output().includes('"requestId":"req-12345"'), 'the request in the log')
    const line = p.output().split('\n').find((l) => l.includes('"requestId":"req-12345"'))
    expect(JSON.parse(line!)).toMatchObject({ level: 'info', msg: 'request', status: 200, verdict: 'public', service: 'projects/my-project/services/open', path: '/hello' })
    // A query's values are where secrets travel in URLs: the log keeps the names only.
    const withSecret = await request(`http://127.0.0.1:${p.gatewayPort}/hello?api_key=hunter2&page=2`, { headers: { host: 'open.my-project.localhost', 'x-request-id': 'req-secret' } })
    await withSecret.body.dump()
    await eventually(2_000, () => p.output().includes('"requestId":"req-secret"'), 'the request in the log')
    expect(JSON.parse(p.output().split('\n').find((l) => l.includes('"requestId":"req-secret"'))!)).toMatchObject({ path: '/hello?api_key=…&page=…' })
    expect(p.output()).not.toContain('hunter2')

    const res2 = await request(`http://127.0.0.1:${p.gatewayPort}/`, { headers: { host: 'open.my-project.localhost', 'x-request-id': 'bad id with spaces' } })
    await res2.body.dump()
    expect(upstream.seen.at(-1)!.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/)
  })

  it('counts requests by service and verdict', async () => {
    const text = await (await fetch(`${p.controlUrl}/metrics`)).text()
    expect(text).toMatch(/postern_gateway_requests_total\{service="projects\/my-project\/services\/open",verdict="public"\} [1-9]/)
  })
})
