import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startPostern, type PosternProcess } from '../support/server.js'
import { createUser, signInUser } from '../support/sign-in.js'
import { startUpstream } from '../support/upstream.js'

/**
 * A Postern that is wedged (stopped with SIGSTOP here; hung, or swapped out, in life) behind its
 * nginx data plane: a request nginx holds no verdict for fails closed (503 UNAVAILABLE) within
 * about three seconds (nginx-config.ts DECIDE_READ_SECONDS), not the ten it took, and is admitted
 * again once Postern answers.
 */
describe('the nginx data plane when Postern is wedged', () => {
  let p: PosternProcess
  let upstream: Awaited<ReturnType<typeof startUpstream>>
  let coldToken: string
  const call = async (token: string) => {
    const started = Date.now()
    const r = await request(`http://127.0.0.1:${p.gatewayPort}/echo`, { headers: { host: `web.my-project.localhost:${p.gatewayPort}`, authorization: `Bearer ${token}` }, headersTimeout: 20_000 })
    const body = await r.body.text()
    return { status: r.statusCode, body, ms: Date.now() - started }
  }

  beforeAll(async () => {
    upstream = await startUpstream()
    p = await startPostern({ dataPlane: 'nginx' })
    expect((await p.cli(['services', 'create', 'web', `--upstream=${upstream.url}`])).code).toBe(0)
    expect((await p.cli(['services', 'add-iam-policy-binding', 'web', '--member=user:owner@example.com', '--role=roles/run.invoker'])).code).toBe(0)
    await createUser(p, 'ann@example.com', 'ann-password-123')
    expect((await p.cli(['services', 'add-iam-policy-binding', 'web', '--member=user:ann@example.com', '--role=roles/run.invoker'])).code).toBe(0)
    // Ann's token is never shown to nginx before Postern is stopped: no verdict of hers is held.
    coldToken = (await signInUser(p, 'ann@example.com', 'ann-password-123')).idToken
    // nginx has spoken to Postern already (kept-alive connections to its socket).
    expect((await call(await p.ownerIdToken())).status).toBe(200)
  })
  afterAll(async () => {
    p?.signal('SIGCONT')
    await Promise.all([p?.stop(), upstream?.close()])
  })

  it('answers a request it holds no verdict for 503 within about three seconds, and admits it once Postern answers again', async () => {
    p.signal('SIGSTOP')
    let wedged: Awaited<ReturnType<typeof call>>
    try {
      wedged = await call(coldToken)
    } finally {
      p.signal('SIGCONT')
    }
    expect(wedged.status, wedged.body).toBe(503)
    expect(JSON.parse(wedged.body).error.status).toBe('UNAVAILABLE')
    expect(wedged.ms).toBeLessThan(4_500)
    const back = await call(coldToken)
    expect(back.status, back.body).toBe(200)
    expect(upstream.seen.at(-1)!.headers['x-postern-authenticated-email']).toBe('ann@example.com')
  })

  // A load balancer's probe, on a host no service can have (the gateway's address): the gateway's
  // own health, which a hung Postern used to leave unanswered for an hour (nginx waited on it as
  // long as on a service's own /healthz, nginx-config.ts).
  it('answers /healthz and /readyz on the gateway\'s own host 503 not ready within about three seconds, and 200 once Postern answers', async () => {
    const probe = async (path: string) => {
      const started = Date.now()
      const r = await request(`http://127.0.0.1:${p.gatewayPort}${path}`, { headersTimeout: 20_000 })
      return { status: r.statusCode, body: await r.body.text(), ms: Date.now() - started }
    }
    p.signal('SIGSTOP')
    let wedged: Awaited<ReturnType<typeof probe>>[]
    try {
      wedged = await Promise.all([probe('/healthz'), probe('/readyz')])
    } finally {
      p.signal('SIGCONT')
    }
    for (const w of wedged) {
      expect(w.status, w.body).toBe(503)
      expect(JSON.parse(w.body).status).toBe('not ready')
      expect(w.ms).toBeLessThan(4_500)
    }
    expect((await probe('/healthz')).status).toBe(200)
    expect((await probe('/readyz')).status).toBe(200)
  })
})
