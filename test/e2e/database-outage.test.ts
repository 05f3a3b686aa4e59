import { randomBytes } from 'node:crypto'
import pgLib from 'pg'
import { request } from 'undici'
import WebSocket from 'ws'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { printedDecisionKey } from '../support/decision-key.js'
import { startPrivatePostgres, type PrivatePostgres } from '../support/private-postgres.js'
import { startPostern, type PosternProcess } from '../support/server.js'
import { startTcpProxy } from '../support/tcp-proxy.js'
import { startUpstream } from '../support/upstream.js'
import { eventually } from '../support/eventually.js'

/**
 * Losing the database: a gateway keeps deciding from what it knows, reports not-ready,
 * fails closed past --max-staleness, and catches up with every change once the database is back;
 * nothing acknowledged is lost. Runs on a PostgreSQL of its own, so stopping it touches nothing else.
 */
describe('when the database goes away', () => {
  let pg: PrivatePostgres
  let link: Awaited<ReturnType<typeof startTcpProxy>>
  let control: PosternProcess
  let gateway: PosternProcess
  let upstream: Awaited<ReturnType<typeof startUpstream>>
  const tokens: string[] = []
  let decisionKey: string
  const member = (i: number) => `serviceAccount:robot-${i}@my-project.iam.postern.internal`

  beforeAll(async () => {
    pg = await startPrivatePostgres()
    link = await startTcpProxy(pg.port)
    const env = { POSTERN_MASTER_KEY: randomBytes(32).toString('base64') }
    control = await startPostern({ databaseUrl: pg.url, env, args: ['--planes', 'control'] })
    // The gateway reaches the database through a link the test can cut.
    gateway = await startPostern({ databaseUrl: pg.url.replace(String(pg.port), String(link.port)), env, args: ['--planes', 'gateway', '--issuer', control.controlUrl, '--max-staleness', '8s'] })
    expect((await control.cli(['services', 'create', 'api', '--upstream', 'http://127.0.0.1:9'])).code).toBe(0)
    const owner = await control.ownerToken()
    for (const i of [0, 1]) {
      const sa = await control.api<{ email: string }>('POST', '/v1/projects/my-project/serviceAccounts', { accountId: `robot-${i}` }, owner)
      tokens.push((await control.api<{ token: string }>('POST', `/v1/projects/-/serviceAccounts/${sa.body.email}:generateIdToken`, { audience: 'postern-cli' }, owner)).body.token)
    }
    expect((await control.cli(['services', 'add-iam-policy-binding', 'api', `--member=${member(0)}`, '--role=roles/run.invoker'])).code).toBe(0)
    // A service with a WebSocket echo upstream, for tunnels open across an outage.
    upstream = await startUpstream()
    expect((await control.cli(['services', 'create', 'ws', '--upstream', upstream.url])).code).toBe(0)
    expect((await control.cli(['services', 'add-iam-policy-binding', 'ws', `--member=${member(1)}`, '--role=roles/run.invoker'])).code).toBe(0)
    decisionKey = await printedDecisionKey(control, ['--database-url', pg.url], env)
  })
  afterAll(async () => {
    await Promise.all([control?.stop(), gateway?.stop(), upstream?.close()])
    await link?.close()
    pg?.destroy()
  })

  const status = async (i: number) => {
    const res = await request(`http://127.0.0.1:${gateway.gatewayPort}/`, { headers: { host: 'api.my-project.localhost', authorization: `Bearer ${tokens[i]}` } })
    await res.body.dump()
    return res.statusCode === 502 ? 'allowed' : res.statusCode === 403 ? 'denied' : String(res.statusCode)
  }
  const notAudited = () => gateway.output().split('\n').filter((line) => line.includes('could not write denied invocations to the audit log')).length
  const ready = async (p: PosternProcess, port: number) => (await fetch(`http://127.0.0.1:${port}/readyz`)).status
  /** The nginx data plane's bulk renewal of a verdict for token i on the ws service (nginx/renewal.ts): allow or refuse. */
  const renewal = async (i: number) => {
    const res = await request(`http://127.0.0.1:${gateway.gatewayPort}/_postern/nginx/renew`, { method: 'POST', body: `GET\tws.my-project.localhost\tBearer ${tokens[i]}`, headers: { host: 'postern-decision.invalid', 'x-postern-decision-key': decisionKey } })
    return (await res.body.text()).split('\t')[0]
  }

  it('answers from what it knows while cut off, reports not ready, and catches up with every change made meanwhile', async () => {
    await eventually(2_000, async () => (await status(0)) === 'allowed')
    expect(await ready(gateway, gateway.gatewayPort)).toBe(200)
    await link.cut()
    expect(await status(0)).toBe('allowed')
    expect(await status(1)).toBe('denied')
    // Denied again over several of the audit writer's flushes (every 500 ms): it cannot write
    // them, and says so once, not at every flush.
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setTimeout(r, 700))
      expect(await status(1)).toBe('denied')
    }
    await eventually(3_000, () => notAudited() > 0, 'the audit writer’s warning')
    await eventually(8_000, async () => (await ready(gateway, gateway.gatewayPort)) === 503)
    await eventually(3_000, async () => gateway.output().includes('cannot read the change feed; serving from memory'))

    // Changes the gateway cannot see yet.
    expect((await control.cli(['services', 'add-iam-policy-binding', 'api', `--member=${member(1)}`, '--role=roles/run.invoker'])).code).toBe(0)
    expect((await control.cli(['services', 'remove-iam-policy-binding', 'api', `--member=${member(0)}`, '--role=roles/run.invoker'])).code).toBe(0)
    expect(await status(0)).toBe('allowed') // still the old view

    await link.restore()
    await eventually(3_000, async () => (await status(0)) === 'denied' && (await status(1)) === 'allowed')
    await eventually(3_000, async () => (await ready(gateway, gateway.gatewayPort)) === 200)
    await eventually(3_000, async () => gateway.output().includes('database reachable again'))
    // The first denial written after the outage says how many entries the outage cost, once.
    await eventually(3_000, async () => /denied invocations written to the audit log again/.test(gateway.output()), 'the audit writer’s recovery line')
    expect(Number(/denied invocations written to the audit log again.*"entriesNotAudited":(\d+)/.exec(gateway.output())?.[1])).toBeGreaterThanOrEqual(3)
    expect(notAudited()).toBe(1)
  }, 60_000)

  it('fails closed once its view is older than --max-staleness, and closes the tunnels it let in', async () => {
    const socket = new WebSocket(`ws://127.0.0.1:${gateway.gatewayPort}/chat`, { headers: { host: 'ws.my-project.localhost', authorization: `Bearer ${tokens[1]}` } })
    let closedAt = 0
    socket.on('close', () => (closedAt = Date.now()))
    socket.on('error', () => {})
    await eventually(10_000, () => socket.readyState === WebSocket.OPEN, 'the WebSocket open')
    // Answered just before the cut, this renewal would be answered again for 10 s while nothing changes.
    expect(await renewal(1)).toBe('allow')
    await link.cut()
    try {
      expect(await status(1)).toBe('allowed')
      await eventually(15_000, async () => (await status(1)) === '503', 'failing closed', 250)
      const failedClosedAt = Date.now()
      expect(await renewal(1)).toBe('refuse')
      // A host its view does not hold is no proof there is no such service now: 503 too, not 404.
      const unknown = await request(`http://127.0.0.1:${gateway.gatewayPort}/`, { headers: { host: 'nowhere.my-project.localhost' } })
      await unknown.body.dump()
      expect(unknown.statusCode).toBe(503)
      // Rechecked once a second: closed within about a second of the view going stale.
      await eventually(3_000, () => closedAt > 0, 'the WebSocket closed')
      expect(closedAt - failedClosedAt).toBeLessThan(2_500)
    } finally {
      socket.terminate()
      await link.restore()
    }
    await eventually(3_000, async () => (await status(1)) === 'allowed')
  }, 30_000)

  it('loses nothing acknowledged when the database itself stops and comes back', async () => {
    const owner = await control.ownerToken()
    const acknowledged: string[] = []
    const refused: number[] = []
    let stopping = false
    const writer = (async () => {
      for (let i = 0; i < 400 && !(stopping && refused.length > 5); i++) {
        const res = await control.api('POST', '/v1/groups', { email: `team-${i}@example.com` }, owner).catch(() => ({ status: 0 }))
        if (res.status === 200) acknowledged.push(`team-${i}@example.com`)
        else refused.push(res.status)
      }
    })()
    await eventually(10_000, () => acknowledged.length >= 5, 'the first writes acknowledged')
    stopping = true
    pg.stop()
    await writer
    expect(acknowledged.length).toBeGreaterThan(0)
    expect(refused.every((s) => s === 503)).toBe(true) // refused writes say so: 503, never 500
    expect(await status(1)).toBe('allowed') // the gateway still answers from memory
    expect(await ready(control, control.controlPort)).toBe(503)
    pg.start()
    await eventually(10_000, async () => (await ready(control, control.controlPort)) === 200)
    const { body } = await control.api<{ groups: { email: string }[] }>('GET', '/v1/groups', undefined, owner)
    const stored = new Set(body.groups.map((g) => g.email))
    expect(acknowledged.filter((e) => !stored.has(e))).toEqual([])
    await eventually(10_000, async () => (await ready(gateway, gateway.gatewayPort)) === 200)
  }, 60_000)

  it('says a database that refuses connections is unavailable (503), not an internal error', async () => {
    const owner = await control.ownerToken()
    const admin = new pgLib.Client({ connectionString: pg.url.replace(/\/postgres$/, '/template1') })
    await admin.connect()
    try {
      // Up, but taking no connections to Postern's database: what ALTER DATABASE … ALLOW_CONNECTIONS false says (55000).
      await admin.query('ALTER DATABASE postgres ALLOW_CONNECTIONS false')
      await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'postgres'")
      const refused = await control.api<{ error: { status: string } }>('GET', '/v1/groups', undefined, owner)
      expect(refused.status).toBe(503)
      expect(refused.body.error.status).toBe('UNAVAILABLE')
    } finally {
      await admin.query('ALTER DATABASE postgres ALLOW_CONNECTIONS true')
      await admin.end()
    }
    await eventually(10_000, async () => (await control.api('GET', '/v1/groups', undefined, owner)).status === 200)
  }, 30_000)
})
