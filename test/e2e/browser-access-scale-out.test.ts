import { randomBytes } from 'node:crypto'
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { browserSignIn } from '../support/browser-sign-in.js'
import { createTestDatabase } from '../support/postgres.js'
import { startPostern, type PosternProcess } from '../support/server.js'
import { startUpstream } from '../support/upstream.js'
import { createUser } from '../support/web-sign-in.js'

/**
 * Browser sessions across processes on one PostgreSQL: a control process and two gateways behind
 * one public gateway URL. A session started through one gateway admits the browser at the other
 * (the store, and the master key that tags cookies, are shared); signing out through one stops
 * the browser at the other within a second (the ended sign-in travels on the change feed).
 */
describe.skipIf(!inject('postgres'))('browser sessions on two gateways and a control process', () => {
  let control: PosternProcess
  let gateways: PosternProcess[]
  let upstream: Awaited<ReturnType<typeof startUpstream>>
  let drop: () => Promise<void>
  // What a load balancer in front would answer at; every process is told so.
  const PUBLIC = 'http://localhost:7999'
  const host = 'hello.my-project.localhost:7999'
  const password = 'correct horse battery staple'

  beforeAll(async () => {
    const db = await createTestDatabase()
    drop = db.drop
    upstream = await startUpstream()
    const env = { POSTERN_MASTER_KEY: randomBytes(32).toString('base64') }
    control = await startPostern({ databaseUrl: db.url, env, args: ['--planes', 'control', '--gateway-url', PUBLIC] })
    gateways = await Promise.all([0, 1].map(() => startPostern({ databaseUrl: db.url, env, args: ['--planes', 'gateway', '--issuer', control.controlUrl, '--gateway-url', PUBLIC] })))
    await createUser(control.api, 'ann@example.com', password)
    for (const args of [['services', 'create', 'hello', `--upstream=${upstream.url}`], ['services', 'add-iam-policy-binding', 'hello', '--member=user:ann@example.com', '--role=roles/run.invoker']]) {
      const r = await control.cli(args)
      expect(r.code, r.stderr).toBe(0)
    }
  })
  afterAll(async () => {
    await Promise.all([control, ...(gateways ?? [])].map((p) => p?.stop()))
    await upstream?.close()
    await drop?.()
  })

  const status = async (g: PosternProcess, cookie: string) => {
    const res = await request(`http://127.0.0.1:${g.gatewayPort}/echo`, { headers: { host, cookie } })
    await res.body.dump()
    return res.statusCode
  }

  it('a session from one gateway works at the other, and signing out at one stops the other within a second', async () => {
    const [a, b] = gateways as [PosternProcess, PosternProcess]
    // The sign-in is made through gateway A (the control plane's hand-off sends it to the public URL's callback, answered by A here).
    const { cookie } = await browserSignIn({ gatewayPort: a.gatewayPort, host, controlUrl: control.controlUrl, email: 'ann@example.com', password })
    expect(await status(a, cookie)).toBe(200)
    expect(await status(b, cookie)).toBe(200)

    const out = await request(`http://127.0.0.1:${a.gatewayPort}/_postern/signout`, { method: 'POST', headers: { host, cookie, origin: `http://${host}` } })
    expect(out.statusCode).toBe(200)
    await out.body.dump()
    const start = Date.now()
    let last = 200
    while (last === 200 && Date.now() - start < 3_000) last = await status(b, cookie)
    expect(last).toBe(401)
    expect(Date.now() - start).toBeLessThanOrEqual(1_000)
  })
})
