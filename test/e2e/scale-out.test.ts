import { randomBytes } from 'node:crypto'
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { createTestDatabase } from '../support/postgres.js'
import { freePort } from '../support/ports.js'
import { startPostern, type PosternProcess } from '../support/server.js'
import { eventually } from '../support/eventually.js'

/**
 * Several processes on one PostgreSQL: one control plane and two gateways. A change
 * made through the control process is enforced by both gateways within a second, and after a
 * burst of 1,000 policy changes both agree with the database.
 */
describe.skipIf(!inject('postgres'))('two gateways and a control process on PostgreSQL', () => {
  let control: PosternProcess
  let gateways: PosternProcess[]
  const metricsPorts: number[] = []
  let drop: () => Promise<void>
  let token: (i: number) => string
  let host: string
  const ACCOUNTS = 40

  beforeAll(async () => {
    const db = await createTestDatabase()
    drop = db.drop
    const env = { POSTERN_MASTER_KEY: randomBytes(32).toString('base64') }
    // The gateways first, on the empty database: neither creates the owner (its password would
    // be printed where the operator does not look); the control process started next does.
    const controlPort = await freePort()
    metricsPorts.push(await freePort(), await freePort())
    gateways = await Promise.all(metricsPorts.map((port) => startPostern({ databaseUrl: db.url, env, args: ['--planes', 'gateway', '--issuer', `http://127.0.0.1:${controlPort}`, '--metrics-port', String(port)] })))
    control = await startPostern({ databaseUrl: db.url, env, controlPort, args: ['--planes', 'control'] })
    expect((await control.cli(['services', 'create', 'api', '--upstream', 'http://127.0.0.1:9'])).code).toBe(0)
    host = 'api.my-project.localhost'
    const owner = await control.ownerToken()
    const tokens: string[] = []
    for (let i = 0; i < ACCOUNTS; i++) {
      const sa = await control.api<{ email: string }>('POST', '/v1/projects/my-project/serviceAccounts', { accountId: `robot-${i}` }, owner)
      expect(sa.status).toBe(200)
      const minted = await control.api<{ token: string }>('POST', `/v1/projects/-/serviceAccounts/${sa.body.email}:generateIdToken`, { audience: 'postern-cli' }, owner)
      tokens.push(minted.body.token)
    }
    token = (i) => tokens[i]!
  })
  afterAll(async () => {
    await Promise.all([control, ...(gateways ?? [])].map((p) => p?.stop()))
    await drop?.()
  })

  /** The gateway's verdict: 200s become 502 here (the upstream is closed), so 'allowed' is anything but 401/403. */
  const verdict = async (g: PosternProcess, i: number) => {
    const res = await request(`http://127.0.0.1:${g.gatewayPort}/`, { headers: { host: `${host}:${g.gatewayPort}`, authorization: `Bearer ${token(i)}` } })
    await res.body.dump()
    return res.statusCode === 403 ? 'denied' : res.statusCode === 401 ? 'unauthenticated' : 'allowed'
  }
  const within = (ms: number, check: () => Promise<boolean>) => eventually(ms, check, 'every gateway agreeing', 25)

  it('only the control process creates the owner and prints its password; gateways started first on the empty database say there is none yet', () => {
    for (const g of gateways) {
      expect(g.ownerPassword).toBeUndefined()
      expect(g.output()).toContain('no owner yet: a process serving only the gateway does not create one')
    }
    expect(control.ownerPassword).toMatch(/\S{8,}/)
  })

  it('a binding added through the control process lets the caller through both gateways within 1 s, and its removal denies within 1 s', async () => {
    expect(await verdict(gateways[0]!, 0)).toBe('denied')
    const member = `serviceAccount:robot-0@my-project.iam.postern.internal`
    const add = await control.cli(['services', 'add-iam-policy-binding', 'api', `--member=${member}`, '--role=roles/run.invoker', '--quiet'])
    expect(add.code, add.stderr).toBe(0)
    await within(1_000, async () => (await Promise.all(gateways.map((g) => verdict(g, 0)))).every((v) => v === 'allowed'))
    const remove = await control.cli(['services', 'remove-iam-policy-binding', 'api', `--member=${member}`, '--role=roles/run.invoker', '--quiet'])
    expect(remove.code, remove.stderr).toBe(0)
    await within(1_000, async () => (await Promise.all(gateways.map((g) => verdict(g, 0)))).every((v) => v === 'denied'))
  })

  it('after a burst of 1,000 policy changes both gateways agree with the database', async () => {
    const owner = await control.ownerToken()
    let seed = 7
    const random = () => ((seed = (seed * 48271) % 2147483647) / 2147483647)
    let current = new Set<number>()
    let etag = (await control.api<{ etag: string }>('POST', '/v2/projects/my-project/services/api:getIamPolicy', {}, owner)).body.etag
    for (let change = 0; change < 1_000; change++) {
      const next = new Set(current)
      const i = Math.floor(random() * ACCOUNTS)
      if (next.has(i)) next.delete(i)
      else next.add(i)
      const members = [...next].map((n) => `serviceAccount:robot-${n}@my-project.iam.postern.internal`)
      const res = await control.api<{ etag: string }>('POST', '/v2/projects/my-project/services/api:setIamPolicy', { policy: { bindings: members.length ? [{ role: 'roles/run.invoker', members }] : [], etag } }, owner)
      expect(res.status).toBe(200)
      etag = res.body.etag
      current = next
    }
    const stored = (await control.api<{ bindings: { members: string[] }[] }>('POST', '/v2/projects/my-project/services/api:getIamPolicy', {}, owner)).body
    const inDatabase = new Set((stored.bindings[0]?.members ?? []).map((m) => Number(/robot-(\d+)@/.exec(m)![1])))
    expect(inDatabase).toEqual(current)
    await within(1_000, async () => {
      for (const g of gateways) {
        for (let i = 0; i < ACCOUNTS; i++) if ((await verdict(g, i)) !== (inDatabase.has(i) ? 'allowed' : 'denied')) return false
      }
      return true
    })
  }, 180_000)

  it('each gateway-only process reports itself ready, and exposes metrics on --metrics-port only', async () => {
    for (const [i, g] of gateways.entries()) {
      const ready = await fetch(`http://127.0.0.1:${g.gatewayPort}/readyz`)
      expect(ready.status).toBe(200)
      expect((await fetch(`http://127.0.0.1:${g.gatewayPort}/metrics`)).status).toBe(404)
      const metrics = await (await fetch(`http://127.0.0.1:${metricsPorts[i]}/metrics`)).text()
      expect(metrics).toMatch(/postern_gateway_requests_total\{service="projects\/my-project\/services\/api",verdict="denied"\} \d+/)
      expect(metrics).toContain('postern_gateway_request_duration_seconds_bucket')
      expect(metrics).toMatch(/postern_decision_cache_hit_ratio 0\.\d+/)
      expect(metrics).toMatch(/postern_change_feed_age_seconds \d/)
    }
  })
})
