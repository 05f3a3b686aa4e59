import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { request } from 'node:http'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { closedServiceAndRobot, closedServiceVerdict } from '../support/closed-service-and-robot.js'
import { createTestDatabase, recreateDatabase } from '../support/postgres.js'
import { DATA_PLANES, startPostern, type PosternProcess } from '../support/server.js'
import { eventually } from '../support/eventually.js'

const NOWHERE = 'nowhere.my-project.localhost'

/** GET PATH at the gateway with this Host (and headers): status, headers and body. */
function get(port: number, host: string, path = '/', headers: Record<string, string> = {}): Promise<{ status: number; retryAfter?: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host, ...headers } }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => (body += chunk))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'], body }))
    })
    req.on('error', reject)
    req.end()
  })
}

/**
 * While a process does not trust its view (the database replaced under it, a restore still
 * settling, the database out of reach past --max-staleness), a host the view does not hold may be
 * a service all the same — the restore brings it back — so the gateway cannot say there is none:
 * it answers 503 as for a known host, not 404 "no such service", which callers and caches would
 * take for a service gone. Health, readiness and forward-auth on such a host are still answered.
 * Once the view is trusted again, a host that is no service is 404 again. On both data planes:
 * the nginx plane's decision is Postern's (nginx/decision.ts).
 */
describe.skipIf(!inject('postgres')).each(DATA_PLANES)('a host no service answers at, while the view is not trusted (%s data plane)', (dataPlane) => {
  let db: { url: string; drop: () => Promise<void> }
  let server: PosternProcess
  let token: string
  const env = { POSTERN_MASTER_KEY: randomBytes(32).toString('base64') }

  beforeAll(async () => {
    db = await createTestDatabase()
    server = await startPostern({ databaseUrl: db.url, env, dataPlane })
    token = (await closedServiceAndRobot(server, { invoker: true })).token
  }, 60_000)
  afterAll(async () => {
    await server?.stop()
    await db?.drop()
  })

  it('answers 503, not 404, until the view is trusted again; then 404', async () => {
    const verdict = () => closedServiceVerdict(server.gatewayPort, token)
    await eventually(3_000, async () => (await verdict()) === 'allowed')
    const trusted = await get(server.gatewayPort, NOWHERE)
    expect(trusted.status).toBe(404)
    expect(trusted.body).toContain(`No service answers at ${NOWHERE}.`)
    const dump = join(mkdtempSync(join(tmpdir(), 'postern-dump-')), 'db.dump')
    execFileSync('pg_dump', ['-Fc', '-f', dump, db.url])

    // An empty database: the process fails closed at once and cannot reload until Postern's data is back.
    await recreateDatabase(db.url)
    await eventually(5_000, async () => (await verdict()) === '503', 'failing closed', 100)
    const distrusted = await get(server.gatewayPort, NOWHERE, '/', { authorization: `Bearer ${token}` })
    expect(distrusted.status).toBe(503)
    expect(distrusted.retryAfter).toBe('5')
    expect(distrusted.body).toContain('"UNAVAILABLE"')
    // A load balancer's probes on a host that is no service are still answered by the process itself.
    expect((await get(server.gatewayPort, 'localhost', '/healthz')).status).toBe(200)
    const readiness = await get(server.gatewayPort, 'localhost', '/readyz')
    expect(readiness.status).toBe(503)
    expect(JSON.parse(readiness.body)).toMatchObject({ status: 'not ready' })
    // Forward-auth about such a host: 503 too, and no advice to fix the proxy's X-Forwarded-Host.
    const asked = await get(server.gatewayPort, 'localhost', '/forward-auth', { 'x-forwarded-host': NOWHERE, 'x-forwarded-uri': '/', 'x-forwarded-method': 'GET' })
    expect(asked.status).toBe(503)
    expect(asked.body).not.toContain('X-Forwarded-Host')

    execFileSync('pg_restore', ['--single-transaction', '-d', db.url, dump])
    await eventually(10_000, async () => (await verdict()) === 'allowed', 'recovery once the data is back', 100)
    expect((await get(server.gatewayPort, NOWHERE)).status).toBe(404)
    const askedAgain = await get(server.gatewayPort, 'localhost', '/forward-auth', { 'x-forwarded-host': NOWHERE, 'x-forwarded-uri': '/', 'x-forwarded-method': 'GET' })
    expect(askedAgain.status).toBe(404)
    expect(askedAgain.body).toContain('set X-Forwarded-Host to the original Host')
  }, 60_000)
})
