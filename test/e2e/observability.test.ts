import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startPostern, type PosternProcess } from '../support/server.js'
import { startUpstream } from '../support/upstream.js'
import { eventually } from '../support/eventually.js'
import { freePort } from '../support/ports.js'
import { createUser, signInUser } from '../support/sign-in.js'
import { WebAgent } from '../support/web-sign-in.js'

const SERVICE = 'projects/my-project/services/open'

/** What operators expect: health, readiness, Prometheus metrics, JSON logs carrying the request id the upstream also sees. */
describe('health, metrics and logs', () => {
  let p: PosternProcess
  let metricsPort: number
  let upstream: Awaited<ReturnType<typeof startUpstream>>
  beforeAll(async () => {
    upstream = await startUpstream()
    metricsPort = await freePort()
    p = await startPostern({ args: ['--access-log', '--metrics-port', String(metricsPort)] })
    expect((await p.cli(['services', 'create', 'open', `--upstream=${upstream.url}`, '--allow-unauthenticated'])).code).toBe(0)
    // One request, so that the metrics name the service: what an anonymous caller must not read.
    const res = await request(`http://127.0.0.1:${p.gatewayPort}/`, { headers: { host: 'open.my-project.localhost' } })
    await res.body.dump()
  })
  afterAll(async () => {
    await p?.stop()
    await upstream?.close()
  })

  it('serves /healthz and /readyz on the control plane to anyone', async () => {
    expect(await (await fetch(`${p.controlUrl}/healthz`)).json()).toEqual({ status: 'ok' })
    const ready = await fetch(`${p.controlUrl}/readyz`)
    expect(ready.status).toBe(200)
    expect(await ready.json()).toMatchObject({ status: 'ready', database: 'ok' })
  })

  it('answers /metrics on the control plane 401 without a credential, as the rest of the API, naming no service', async () => {
    const attempts: Record<string, string>[] = [{}, { accept: 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1' }, { authorization: 'Bearer not-a-token' }, { cookie: '__Host-postern_session=made-up' }]
    for (const headers of attempts) {
      const res = await fetch(`${p.controlUrl}/metrics`, { headers })
      const body = await res.text()
      expect(res.status, JSON.stringify(headers)).toBe(401)
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/)
      expect(res.headers.get('content-type')).toContain('application/json')
      expect(JSON.parse(body)).toMatchObject({ error: { code: 401, status: 'UNAUTHENTICATED' } })
      expect(body).not.toContain('services/open')
      expect(body).not.toContain('postern_gateway_requests_total')
    }
  })

  it('serves /metrics on the control plane to the owner, by access token or console session', async () => {
    const res = await fetch(`${p.controlUrl}/metrics`, { headers: { authorization: `Bearer ${await p.ownerToken()}` } })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toContain('text/plain; version=0.0.4')
    const text = await res.text()
    expect(text).toContain('# TYPE postern_change_feed_age_seconds gauge')
    expect(text).toContain(`service="${SERVICE}"`)

    const browser = new WebAgent(p.controlUrl)
    expect((await browser.signIn('owner@example.com', p.ownerPassword!)).status).toBe(303)
    const viaSession = await browser.fetch('/metrics')
    expect(viaSession.status).toBe(200)
    expect(await viaSession.text()).toContain(`service="${SERVICE}"`)
  })

  it('refuses /metrics 403 to a signed-in user who cannot list every service, and serves it once they can', async () => {
    // Viewer of the one project: may list its services, not every project's.
    await createUser(p, 'metrics-reader@example.com', 'metrics reader password')
    expect((await p.cli(['projects', 'add-iam-policy-binding', 'my-project', '--member=user:metrics-reader@example.com', '--role=roles/viewer'])).code).toBe(0)
    const reader = await signInUser(p, 'metrics-reader@example.com', 'metrics reader password')
    const refused = await fetch(`${p.controlUrl}/metrics`, { headers: { authorization: `Bearer ${reader.accessToken}` } })
    const body = await refused.text()
    expect(refused.status).toBe(403)
    expect(JSON.parse(body)).toMatchObject({ error: { code: 403, status: 'PERMISSION_DENIED' } })
    expect(JSON.parse(body).error.message).toContain("Permission 'run.services.list' denied on resource 'organizations/local' for user:metrics-reader@example.com")
    expect(body).not.toContain(SERVICE)

    // Run Viewer on the organization: may list every service, so may read what names them.
    const policy = (await p.api<{ bindings: { role: string; members: string[] }[] }>('POST', '/v1/organizations/local:getIamPolicy', {})).body
    policy.bindings.push({ role: 'roles/run.viewer', members: ['user:metrics-reader@example.com'] })
    expect((await p.api('POST', '/v1/organizations/local:setIamPolicy', { policy })).status).toBe(200)
    const served = await fetch(`${p.controlUrl}/metrics`, { headers: { authorization: `Bearer ${reader.accessToken}` } })
    expect(served.status).toBe(200)
    expect(await served.text()).toContain(`service="${SERVICE}"`)
  })

  it('serves /metrics, /healthz and /readyz on --metrics-port to anyone, beside the control plane, and nothing else', async () => {
    const metrics = await fetch(`http://127.0.0.1:${metricsPort}/metrics`)
    expect(metrics.status).toBe(200)
    expect(metrics.headers.get('content-type')).toContain('text/plain; version=0.0.4')
    const text = await metrics.text()
    expect(text).toContain('# TYPE postern_change_feed_age_seconds gauge')
    expect(text).toContain(`service="${SERVICE}"`)
    expect(await (await fetch(`http://127.0.0.1:${metricsPort}/healthz`)).json()).toEqual({ status: 'ok' })
    expect((await fetch(`http://127.0.0.1:${metricsPort}/readyz`)).status).toBe(200)
    expect((await fetch(`http://127.0.0.1:${metricsPort}/v1/projects`)).status).toBe(404)
    expect(p.output()).toContain(`Metrics (no credential needed): http://127.0.0.1:${metricsPort}/metrics`)
  })

  it('passes the caller’s request id to the upstream and logs it with the request', async () => {
    const res = await request(`http://127.0.0.1:${p.gatewayPort}/hello`, { headers: { host: 'open.my-project.localhost', 'x-request-id': 'req-12345' } })
    expect(res.statusCode).toBe(200)
    await res.body.dump()
    expect(upstream.seen.at(-1)!.headers['x-request-id']).toBe('req-12345')
    await eventually(2_000, () => p.output().includes('"requestId":"req-12345"'), 'the request in the log')
    const line = p.output().split('\n').find((l) => l.includes('"requestId":"req-12345"'))
    expect(JSON.parse(line!)).toMatchObject({ level: 'info', msg: 'request', status: 200, verdict: 'public', service: SERVICE, path: '/hello' })
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

  it('counts requests by service and verdict, the same on the control port and on --metrics-port', async () => {
    const counted = /postern_gateway_requests_total\{service="projects\/my-project\/services\/open",verdict="public"\} ([1-9]\d*)/
    const owner = await p.ownerToken()
    const fromControl = await (await fetch(`${p.controlUrl}/metrics`, { headers: { authorization: `Bearer ${owner}` } })).text()
    const fromMetricsPort = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text()
    expect(fromControl).toMatch(counted)
    expect(counted.exec(fromMetricsPort)?.[1]).toBe(counted.exec(fromControl)?.[1])
  })
})

/**
 * --metrics-port answers anyone who reaches it, so it stays on loopback when --host opens the
 * planes wider (here 127.0.0.2, which needs no TLS), unless --metrics-host says otherwise.
 */
describe('--metrics-port binds loopback whatever --host is', () => {
  let p: PosternProcess
  let metricsPort: number
  beforeAll(async () => {
    metricsPort = await freePort()
    p = await startPostern({ args: ['--host', '127.0.0.2', '--metrics-port', String(metricsPort)] })
  })
  afterAll(async () => {
    await p?.stop()
  })

  it('serves metrics on 127.0.0.1 and not on the --host address', async () => {
    expect((await fetch(`http://127.0.0.2:${p.controlPort}/healthz`)).status).toBe(200)
    expect((await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).status).toBe(200)
    const elsewhere = await fetch(`http://127.0.0.2:${metricsPort}/metrics`).then(
      (r) => `status ${r.status}`,
      (err: Error & { cause?: { code?: string } }) => err.cause?.code,
    )
    expect(elsewhere).toBe('ECONNREFUSED')
  })
})
