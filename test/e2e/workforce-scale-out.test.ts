import { randomBytes } from 'node:crypto'
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { startExternalIdp, type ExternalIdp } from '../support/external-idp.js'
import { createTestDatabase } from '../support/postgres.js'
import { startPostern, type PosternProcess } from '../support/server.js'
import { token } from '../support/web-sign-in.js'

/**
 * Workforce federation across processes on PostgreSQL: a control process exchanges an
 * external ID token; two gateway processes let its federated principal in through a group
 * binding, and both stop its tokens within a second of the pool being disabled — every process's
 * directory follows the pools through the change feed.
 */
describe.skipIf(!inject('postgres'))('workforce federation on PostgreSQL with two gateways', () => {
  let control: PosternProcess
  let gateways: PosternProcess[]
  let idp: ExternalIdp
  let drop: () => Promise<void>
  let bearer: string
  const POOL = 'scale-pool'

  beforeAll(async () => {
    const db = await createTestDatabase()
    drop = db.drop
    const env = { POSTERN_MASTER_KEY: randomBytes(32).toString('base64') }
    idp = await startExternalIdp()
    control = await startPostern({ databaseUrl: db.url, env, args: ['--planes', 'control'] })
    gateways = await Promise.all([1, 2].map(() => startPostern({ databaseUrl: db.url, env, args: ['--planes', 'gateway', '--issuer', control.controlUrl] })))
    const ok = async (args: string[]) => {
      const r = await control.cli(args)
      expect(r.code, r.stderr).toBe(0)
    }
    await ok(['services', 'create', 'api', '--upstream', 'http://127.0.0.1:9'])
    await ok(['iam', 'workforce-pools', 'create', POOL])
    await ok(['iam', 'workforce-pools', 'providers', 'create-oidc', 'corp-idp', '--workforce-pool', POOL, '--issuer-uri', idp.issuer, '--client-id', idp.clientId, '--attribute-mapping', 'postern.subject=assertion.sub,postern.groups=assertion.groups'])
    await ok(['services', 'add-iam-policy-binding', 'api', `--member=principalSet://iam.postern/workforcePools/${POOL}/group/eng`, '--role=roles/run.invoker'])
    bearer = await exchange()
  })
  /** ann's ID token from a token exchange at the pool's provider. */
  const exchange = async () => {
    const exchanged = await token(control.controlUrl, {
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token: await idp.mint({ sub: 'ann', groups: ['eng'] }),
      subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
      audience: `//iam.postern/workforcePools/${POOL}/providers/corp-idp`,
    })
    expect(exchanged.status, JSON.stringify(exchanged.body)).toBe(200)
    return exchanged.body.id_token!
  }
  afterAll(async () => {
    await Promise.all([control, ...(gateways ?? [])].map((p) => p?.stop()))
    await idp?.close()
    await drop?.()
  })

  /** 502: let through to the (absent) upstream; 401: the token was refused. */
  const status = async (g: PosternProcess) => {
    const res = await request(`http://127.0.0.1:${g.gatewayPort}/`, { headers: { host: 'api.my-project.localhost', authorization: `Bearer ${bearer}` } })
    await res.body.dump()
    return res.statusCode
  }

  it('both gateways let the federated principal in, and stop its tokens within 1 s of the pool being disabled; its sign-ins stay ended when it is enabled again', async () => {
    for (const g of gateways) await expect.poll(() => status(g), { timeout: 2_000, interval: 50 }).toBe(502)
    const disabled = await control.cli(['iam', 'workforce-pools', 'update', POOL, '--disabled'])
    expect(disabled.code, disabled.stderr).toBe(0)
    const started = Date.now()
    await Promise.all(gateways.map((g) => expect.poll(() => status(g), { timeout: 1_000, interval: 25 }).toBe(401)))
    expect(Date.now() - started).toBeLessThanOrEqual(1_000)
    expect((await control.cli(['iam', 'workforce-pools', 'update', POOL, '--no-disabled'])).code).toBe(0)
    // Disabling ended the sign-in the token came from: enabled again, the pool takes a new exchange, not that token.
    await new Promise((resolve) => setTimeout(resolve, 1_000))
    for (const g of gateways) expect(await status(g)).toBe(401)
    bearer = await exchange()
    for (const g of gateways) await expect.poll(() => status(g), { timeout: 1_000, interval: 25 }).toBe(502)
  })
})
