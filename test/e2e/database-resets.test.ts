import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { gatewayStatus } from '../support/gateway-status.js'
import { createTestDatabase } from '../support/postgres.js'
import { startPostern, type PosternProcess } from '../support/server.js'
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js'
import { eventually } from '../support/eventually.js'

/**
 * A TCP reset on a PostgreSQL connection, at any moment — idle in the pool, mid-query,
 * mid-transaction, on the LISTEN connection — never ends the process: the operation fails with
 * UNAVAILABLE (503 at the API), gateways keep deciding from memory, and every process recovers
 * once the database answers again. One control process and two gateways, each reaching the
 * database through a relay the test resets on command.
 */
describe.skipIf(!inject('postgres'))('a PostgreSQL connection reset at any moment', () => {
  let drop: () => Promise<void>
  let control: PosternProcess
  let gateways: PosternProcess[]
  let links: { control: TcpProxy; gateways: TcpProxy[] }
  let owner: string
  const tokens: string[] = []
  const HOST = 'api.my-project.localhost'
  const member = (i: number) => `serviceAccount:robot-${i}@my-project.iam.postern.internal`

  beforeAll(async () => {
    const db = await createTestDatabase()
    drop = db.drop
    const pgPort = Number(new URL(db.url).port || 5432)
    links = { control: await startTcpProxy(pgPort), gateways: [await startTcpProxy(pgPort), await startTcpProxy(pgPort)] }
    const through = (link: TcpProxy) => db.url.replace(`:${pgPort}/`, `:${link.port}/`)
    const env = { POSTERN_MASTER_KEY: randomBytes(32).toString('base64') }
    control = await startPostern({ databaseUrl: through(links.control), env, args: ['--planes', 'control'] })
    gateways = await Promise.all(links.gateways.map((link) => startPostern({ databaseUrl: through(link), env, args: ['--planes', 'gateway', '--issuer', control.controlUrl, '--max-staleness', '30s'] })))
    expect((await control.cli(['services', 'create', 'api', '--upstream', 'http://127.0.0.1:9'])).code).toBe(0)
    owner = await control.ownerToken()
    for (const i of [0, 1, 2]) {
      const sa = await control.api<{ email: string }>('POST', '/v1/projects/my-project/serviceAccounts', { accountId: `robot-${i}` }, owner)
      tokens.push((await control.api<{ token: string }>('POST', `/v1/projects/-/serviceAccounts/${sa.body.email}:generateIdToken`, { audience: 'postern-cli' }, owner)).body.token)
    }
    expect((await control.cli(['services', 'add-iam-policy-binding', 'api', `--member=${member(0)}`, '--role=roles/run.invoker', '--quiet'])).code).toBe(0)
    await eventually(5_000, async () => (await verdicts(0)).every((v) => v === 'allowed'))
  }, 120_000)
  afterAll(async () => {
    for (const link of [links?.control, ...(links?.gateways ?? [])]) await link?.close()
    await Promise.all([control, ...(gateways ?? [])].map((p) => p?.stop()))
    await drop?.()
  })

  /** The API's first query, whether the token's sign-in goes on: it passes a hold, so the call's own query is the one cut. */
  const SIGN_IN_CHECK = 'FROM refresh_tokens'
  /** The upstream is closed, so a request the gateway lets through answers 502. */
  const verdict = async (g: PosternProcess, i: number) => {
    const status = await gatewayStatus(g.gatewayPort, HOST, tokens[i]!)
    return status === 502 ? 'allowed' : status === 403 ? 'denied' : String(status)
  }
  const verdicts = (i: number) => Promise.all(gateways.map((g) => verdict(g, i)))
  const healthy = async (p: PosternProcess, port: number) => (await fetch(`http://127.0.0.1:${port}/healthz`)).status
  const allAlive = async () => {
    expect(await healthy(control, control.controlPort)).toBe(200)
    for (const g of gateways) expect(await healthy(g, g.gatewayPort)).toBe(200)
    for (const p of [control, ...gateways]) expect(p.output()).not.toMatch(/Unhandled|uncaught/i)
  }
  /** A change made through the control process reaches both gateways: the whole chain works again. */
  const grantReachesGateways = async (i: number) => {
    await expect.poll(async () => (await control.cli(['services', 'add-iam-policy-binding', 'api', `--member=${member(i)}`, '--role=roles/run.invoker', '--quiet'])).code, { timeout: 15_000, interval: 500 }).toBe(0)
    await expect.poll(() => verdicts(i), { timeout: 15_000, interval: 100 }).toEqual(['allowed', 'allowed'])
    expect((await control.cli(['services', 'remove-iam-policy-binding', 'api', `--member=${member(i)}`, '--role=roles/run.invoker', '--quiet'])).code).toBe(0)
    await expect.poll(() => verdicts(i), { timeout: 15_000, interval: 100 }).toEqual(['denied', 'denied'])
  }

  it('idle pooled connections and the LISTEN connections: every process carries on and catches up', async () => {
    for (const link of [links.control, ...links.gateways]) expect(link.reset()).toBeGreaterThan(0)
    expect(await verdicts(0)).toEqual(['allowed', 'allowed'])
    await allAlive()
    await grantReachesGateways(1)
    await allAlive()
  })

  it('the LISTEN connection alone: each gateway listens again and follows changes', async () => {
    // The test before reset every connection; a gateway follows changes by polling meanwhile, so its
    // LISTEN connection may still be on its way back (the fresh-clone CI once found none to reset).
    for (const link of links.gateways) await link.sent('LISTEN postern_changes')
    for (const link of links.gateways) expect(link.reset({ matching: 'LISTEN' })).toBe(1)
    for (const link of links.gateways) await link.sent('LISTEN postern_changes')
    await allAlive()
    await grantReachesGateways(2)
  })

  it('mid-query: the API answers 503 UNAVAILABLE and the next call succeeds', async () => {
    links.control.hold({ passing: SIGN_IN_CHECK })
    const pending = control.api<{ error: { status: string } }>('GET', '/v1/groups', undefined, owner)
    await links.control.sent('iam_groups')
    links.control.reset()
    const refused = await pending
    expect(refused.status).toBe(503)
    expect(refused.body.error.status).toBe('UNAVAILABLE')
    await allAlive()
    await expect.poll(async () => (await control.api('GET', '/v1/groups', undefined, owner)).status, { timeout: 10_000, interval: 200 }).toBe(200)
  })

  it('mid-transaction in the control process: the write answers 503, changes nothing, and succeeds when retried', async () => {
    links.control.hold({ passing: SIGN_IN_CHECK })
    const pending = control.api<{ error: { status: string } }>('POST', '/v1/groups', { email: 'held@example.com' }, owner)
    await links.control.sent('BEGIN')
    links.control.reset()
    const refused = await pending
    expect(refused.status).toBe(503)
    expect(refused.body.error.status).toBe('UNAVAILABLE')
    await allAlive()
    await expect.poll(async () => (await control.api('POST', '/v1/groups', { email: 'held@example.com' }, owner)).status, { timeout: 10_000, interval: 200 }).toBe(200)
  })

  it('mid-transaction in a gateway (writing denied calls to the audit log): it keeps deciding from memory', async () => {
    const [g] = gateways
    const [link] = links.gateways
    link!.hold()
    expect(await verdict(g!, 1)).toBe('denied') // a denial the gateway then writes to the audit log, in a transaction
    await link!.sent('BEGIN')
    link!.reset()
    expect(await verdict(g!, 0)).toBe('allowed')
    expect(await verdict(g!, 1)).toBe('denied')
    await allAlive()
    await grantReachesGateways(1)
  })
})
