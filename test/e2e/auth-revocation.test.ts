import { randomBytes } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { gatewayAnswer, gatewayStatus } from '../support/gateway-status.js'
import { freePort } from '../support/ports.js'
import { createTestDatabase } from '../support/postgres.js'
import { startPostern, type PosternProcess } from '../support/server.js'
import { WebAgent, claimsOf, codeFlow, createUser, token } from '../support/web-sign-in.js'

/**
 * Disabling or deleting a user stops their refresh tokens at once, their ID tokens at
 * the gateway and their access tokens at the API within one second. On PostgreSQL the change is made through one
 * process and observed at another, so the change feed is what carries it.
 * A sign-in that ends (its refresh token or an access token revoked, a refresh token replayed)
 * ends its access tokens at the API at once, at every process, and its ID tokens at the gateway
 * within a second: both name it (`sid`).
 */

async function apiStatus(p: PosternProcess, bearer: string): Promise<number> {
  const res = await fetch(`${p.controlUrl}/v1/users`, { headers: { authorization: `Bearer ${bearer}` } })
  await res.body?.cancel()
  return res.status
}

async function userinfoStatus(p: PosternProcess, bearer: string): Promise<number> {
  const res = await fetch(`${p.controlUrl}/oauth2/userinfo`, { headers: { authorization: `Bearer ${bearer}` } })
  await res.body?.cancel()
  return res.status
}

async function revoke(p: PosternProcess, token: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${p.controlUrl}/oauth2/revoke`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token, client_id: 'postern-cli' }) })
  return { status: res.status, body: await res.json() }
}

/** Milliseconds until `probe` returns `want`, polling every 20 ms for at most 3 s. */
async function timeUntil(probe: () => Promise<number>, want: number): Promise<number> {
  const start = Date.now()
  for (;;) {
    if ((await probe()) === want) return Date.now() - start
    if (Date.now() - start > 3000) throw new Error(`still not ${want} after 3 s`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

/**
 * Sign-ins ended at `writer`, their access tokens refused at `reader`'s API and their ID tokens at
 * its gateway (the same process on the embedded store); `host` is a service all may invoke.
 */
async function signInsEnd(writer: PosternProcess, reader: PosternProcess, host: string) {
  const password = 'correct horse battery staple'
  const owner = await writer.ownerToken()
  const [hana, ivan, jack] = await Promise.all(
    ['hana@example.com', 'ivan@example.com', 'jack@example.com'].map(async (email) => {
      await createUser((method, path, body) => writer.api(method, path, body, owner), email, password)
      return (await codeFlow(new WebAgent(writer.controlUrl), { email, password })).tokens
    }),
  ) as [Record<string, string>, Record<string, string>, Record<string, string>]
  for (const t of [hana, ivan, jack]) {
    expect(claimsOf(t.access_token!).sid).toEqual(expect.any(String))
    expect(claimsOf(t.id_token!).sid).toBe(claimsOf(t.access_token!).sid)
    expect(await apiStatus(reader, t.access_token!)).toBe(403) // authenticated, though not allowed to list users
    await expect.poll(() => gatewayStatus(reader.gatewayPort, host, t.id_token!), { timeout: 3000, interval: 50 }).toBe(200)
  }
  expect(await userinfoStatus(reader, hana.access_token!)).toBe(200)
  const gatewayRefuses = (idToken: string) => timeUntil(() => gatewayStatus(reader.gatewayPort, host, idToken), 401)

  // An ID token is not revoked by itself, and says so rather than a 200 its holder would believe.
  const byIdToken = await revoke(writer, hana.id_token!)
  expect(byIdToken.status).toBe(400)
  expect(byIdToken.body).toMatchObject({ error: 'unsupported_token_type', error_description: expect.stringContaining('ends with the sign-in it came from') })
  expect(await gatewayStatus(reader.gatewayPort, host, hana.id_token!)).toBe(200)

  // The refresh token revoked (RFC 7009): its access token is refused at once, with an expired token's error shape.
  expect((await revoke(writer, hana.refresh_token!)).status).toBe(200)
  expect(await timeUntil(() => apiStatus(reader, hana.access_token!), 401)).toBeLessThan(1000)
  // Its ID token at the gateway within a second, saying why.
  expect(await gatewayRefuses(hana.id_token!)).toBeLessThan(1000)
  expect((await gatewayAnswer(reader.gatewayPort, host, hana.id_token!)).headers['www-authenticate']).toBe(
    'Bearer realm="postern", error="invalid_token", error_description="The sign-in this token came from has ended; sign in again (postern auth login) and get a new token."',
  )
  const refused = await fetch(`${reader.controlUrl}/v1/users`, { headers: { authorization: `Bearer ${hana.access_token}` } })
  expect(refused.headers.get('www-authenticate')).toBe(
    'Bearer realm="postern", error="invalid_token", error_description="Invalid access token: The sign-in this token came from has ended; sign in again: postern auth login"',
  )
  expect(await refused.json()).toMatchObject({ error: { code: 401, status: 'UNAUTHENTICATED', message: 'Invalid access token: The sign-in this token came from has ended; sign in again: postern auth login' } })
  expect(await userinfoStatus(reader, hana.access_token!)).toBe(401)

  // A rotated refresh token replayed: the family is revoked, and every access token it issued with it.
  const rotated = await token(writer.controlUrl, { grant_type: 'refresh_token', refresh_token: ivan.refresh_token!, client_id: 'postern-cli' })
  expect(rotated.status).toBe(200)
  expect(claimsOf(rotated.body.access_token!).sid).toBe(claimsOf(ivan.access_token!).sid)
  expect(await apiStatus(reader, rotated.body.access_token!)).toBe(403)
  expect((await token(writer.controlUrl, { grant_type: 'refresh_token', refresh_token: ivan.refresh_token!, client_id: 'postern-cli' })).status).toBe(400)
  for (const access of [ivan.access_token!, rotated.body.access_token!]) expect(await timeUntil(() => apiStatus(reader, access), 401)).toBeLessThan(1000)
  for (const id of [ivan.id_token!, rotated.body.id_token!]) expect(await gatewayRefuses(id)).toBeLessThan(1000)

  // An access token revoked, as at Google: its whole sign-in ends, the refresh token too.
  expect((await revoke(writer, jack.access_token!)).status).toBe(200)
  expect(await timeUntil(() => apiStatus(reader, jack.access_token!), 401)).toBeLessThan(1000)
  expect(await gatewayRefuses(jack.id_token!)).toBeLessThan(1000)
  expect((await token(reader.controlUrl, { grant_type: 'refresh_token', refresh_token: jack.refresh_token!, client_id: 'postern-cli' })).body.error).toBe('invalid_grant')

  // A new password set by an admin ends every sign-in of the account: announced by subject, not by family.
  const kate = 'kate@example.com'
  await createUser((method, path, body) => writer.api(method, path, body, owner), kate, password)
  const kates = (await codeFlow(new WebAgent(writer.controlUrl), { email: kate, password })).tokens
  expect(await gatewayStatus(reader.gatewayPort, host, kates.id_token!)).toBe(200)
  expect((await writer.api('POST', `/v1/users/${kate}:setPassword`, { password: 'another horse battery staple' }, owner)).status).toBe(200)
  expect(await gatewayRefuses(kates.id_token!)).toBeLessThan(1000)
}

async function scenario(writer: PosternProcess, reader: PosternProcess, upstream: string) {
  const password = 'correct horse battery staple'
  const users = ['frank@example.com', 'gina@example.com']
  for (const u of users) await createUser(writer.api, u, password)
  expect((await writer.api('POST', '/v2/projects/my-project/services?serviceId=hello', { upstream })).status).toBe(200)
  for (const u of users) expect((await writer.cli(['services', 'add-iam-policy-binding', 'hello', `--member=user:${u}`, '--role=roles/run.invoker'])).code).toBe(0)
  expect((await writer.cli(['services', 'add-iam-policy-binding', 'hello', '--member=domain:example.com', '--role=roles/run.invoker'])).code).toBe(0)
  const host = `hello.my-project.localhost:${reader.gatewayPort}`
  await signInsEnd(writer, reader, host)

  const sessions = await Promise.all(users.map((email) => codeFlow(new WebAgent(writer.controlUrl), { email, password })))
  for (const s of sessions) {
    await expect.poll(() => gatewayStatus(reader.gatewayPort, host, s.tokens.id_token!), { timeout: 3000, interval: 50 }).toBe(200)
    expect(await apiStatus(reader, s.tokens.access_token!)).toBe(403) // authenticated, though not allowed to list users
  }

  const [frank, gina] = sessions as [Awaited<ReturnType<typeof codeFlow>>, Awaited<ReturnType<typeof codeFlow>>]
  const changes: [string, () => Promise<{ status: number }>, typeof frank][] = [
    ['disabled', () => writer.api('PATCH', '/v1/users/frank@example.com', { disabled: true }), frank],
    ['deleted', () => writer.api('DELETE', '/v1/users/gina@example.com'), gina],
  ]
  for (const [what, change, s] of changes) {
    expect((await change()).status, what).toBe(200)
    const refresh = await token(reader.controlUrl, { grant_type: 'refresh_token', refresh_token: s.tokens.refresh_token!, client_id: 'postern-cli' })
    expect(refresh.status, what).toBe(400)
    expect(refresh.body.error).toBe('invalid_grant')
    const [gatewayMs, apiMs] = await Promise.all([
      timeUntil(() => gatewayStatus(reader.gatewayPort, host, s.tokens.id_token!), 401),
      timeUntil(() => apiStatus(reader, s.tokens.access_token!), 401),
    ])
    expect(gatewayMs, `${what}: gateway`).toBeLessThan(1000)
    expect(apiMs, `${what}: API`).toBeLessThan(1000)
  }
}

let upstream: Server
async function startUpstream(): Promise<string> {
  upstream = createServer((_req, res) => res.end('hello'))
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()))
  return `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`
}

describe('revocation when a sign-in ends, or a user is disabled or deleted', () => {
  const running: PosternProcess[] = []
  let drop: (() => Promise<void>) | undefined
  afterAll(async () => {
    for (const p of running) await p.stop()
    await drop?.()
    upstream?.close()
  })

  it('in one process on the embedded store', async () => {
    const p = await startPostern()
    running.push(p)
    await scenario(p, p, await startUpstream())
  })

  it.skipIf(!inject('postgres'))('across two processes sharing PostgreSQL: changed at one, enforced at the other within 1 s', async () => {
    const db = await createTestDatabase()
    drop = db.drop
    // One installation: one master key and one issuer, as a deployment of several processes has.
    const env = { POSTERN_MASTER_KEY: randomBytes(32).toString('base64') }
    const controlPort = await freePort()
    const args = ['--issuer', `http://127.0.0.1:${controlPort}`]
    const writer = await startPostern({ databaseUrl: db.url, env, controlPort, args })
    running.push(writer)
    const reader = await startPostern({ databaseUrl: db.url, env, args })
    running.push(reader)
    await scenario(writer, reader, upstream ? `http://127.0.0.1:${(upstream.address() as AddressInfo).port}` : await startUpstream())
  })
})
