import WebSocket from 'ws'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { startCaddy, startNginx, type FrontProxy } from '../support/front-proxies.js'
import { DATA_PLANES, startPostern, type PosternProcess } from '../support/server.js'
import { createUser, signInUser } from '../support/sign-in.js'
import { startUpstream } from '../support/upstream.js'

/**
 * nginx (auth_request) and Caddy (forward_auth) from Debian, configured with the files in
 * examples/, in front of a real upstream, with Postern deciding: the same allow, 401 and
 * 403 verdicts as the gateway for the same tokens, and the upstream sees the identity headers.
 * Each proxy carries one service's app, as the examples do; a client naming another service in
 * its Host gets the decision of the service the proxy carries. Postern's gateway port answers
 * forward-auth on either data plane.
 */
describe.each(DATA_PLANES)('forward-auth behind nginx and Caddy (%s data plane)', (dataPlane) => {
  let p: PosternProcess
  let upstream: Awaited<ReturnType<typeof startUpstream>>
  // Each front proxy in front of one service's app (the one upstream stands for every app).
  const fronts: Record<'nginx' | 'caddy', Record<string, FrontProxy>> = { nginx: {}, caddy: {} }
  const frontFor = (front: 'nginx' | 'caddy', service: string) => fronts[front][service]!
  const tokens: Record<string, string | undefined> = {}

  beforeAll(async () => {
    upstream = await startUpstream()
    p = await startPostern({ dataPlane })
    await createUser(p, 'ann@example.com', 'ann-password-123')
    await createUser(p, 'bob@example.com', 'bob-password-123')
    for (const args of [
      ['services', 'create', 'app', `--upstream=${upstream.url}`],
      ['services', 'create', 'pub', `--upstream=${upstream.url}`, '--allow-unauthenticated'],
      ['services', 'add-iam-policy-binding', 'app', '--member=user:ann@example.com', '--role=roles/run.invoker'],
    ]) expect((await p.cli(args)).code).toBe(0)
    tokens.ann = (await signInUser(p, 'ann@example.com', 'ann-password-123')).idToken
    tokens.bob = (await signInUser(p, 'bob@example.com', 'bob-password-123')).idToken
    tokens.garbage = 'not.a.token'
    tokens.none = undefined
    const upstreamHostPort = upstream.url.replace('http://', '')
    for (const service of ['app', 'pub', 'nope']) {
      const o = { upstream: upstreamHostPort, gateway: `127.0.0.1:${p.gatewayPort}`, serviceHost: `${service}.my-project.localhost` }
      fronts.nginx[service] = await startNginx(o)
      fronts.caddy[service] = await startCaddy(o)
    }
  })
  afterAll(async () => {
    const proxies = [...Object.values(fronts.nginx), ...Object.values(fronts.caddy)]
    await Promise.all([...proxies.map((f) => f.stop()), p?.stop(), upstream?.close()])
  })

  // What a client may send to pose as Postern or as a proxy: none of it may reach the upstream.
  const spoofed = {
    'x-postern-authenticated-email': 'spoofed@example.com',
    'X-POSTERN-AUTHENTICATED-PRINCIPAL': 'user:spoofed@example.com',
    x_postern_authenticated_email: 'spoofed@example.com',
    // PHP reads `.` as `_`, and so as `-`: $_SERVER['HTTP_X_POSTERN_AUTHENTICATED_PRINCIPAL'].
    'x-postern.authenticated-principal': 'user:spoofed@example.com',
    'X.Postern.Authenticated.Email': 'spoofed@example.com',
    'x-postern-authorization': 'Bearer spoofed',
    'x-postern-extra': 'spoofed',
    'x-forwarded-for': '10.9.9.9',
    'x-forwarded-port': '1',
    'x-forwarded-prefix': '/spoofed',
    forwarded: 'for=10.9.9.9',
    'x-real-ip': '10.9.9.9',
    // Read as the client's address, or the path asked for, by frameworks and CDNs (Rails and PHP apps: Client-IP).
    'client-ip': '10.9.9.9',
    'cf-connecting-ip': '10.9.9.9',
    'x-original-url': '/spoofed',
    // What forward-auth reads before the proxy's own X-Forwarded-Uri and -Method.
    'x-original-method': 'GET',
    'x-original-uri': '/spoofed',
  }
  const call = async (port: number, service: string, token: string | undefined) => {
    // The client's Host names `service`; the proxy at `port` may carry another.
    const res = await request(`http://127.0.0.1:${port}/path?x=1`, {
      headers: { host: `${service}.my-project.localhost:${port}`, ...spoofed, cookie: 'app=1; __Host-postern_service_session=spoofed; theme=dark', ...(token && { authorization: `Bearer ${token}` }) },
    })
    const body = await res.body.text()
    return { status: res.statusCode, body, challenge: res.headers['www-authenticate'] }
  }

  const cases = [
    ['app', 'ann', 200],
    ['app', 'bob', 403],
    ['app', 'garbage', 401],
    ['app', 'none', 401],
    ['pub', 'none', 200],
    ['pub', 'ann', 200],
    ['nope', 'ann', 404],
  ] as const

  for (const front of ['nginx', 'caddy'] as const) {
    it.each(cases)(`${front}: %s with %s's token gives the gateway's verdict (%i)`, async (service, who, expected) => {
      const proxy = frontFor(front, service)
      const port = proxy.port
      const direct = await call(p.gatewayPort, service, tokens[who])
      const before = upstream.seen.length
      const fronted = await call(port, service, tokens[who])
      expect(direct.status).toBe(expected)
      expect(fronted.status, `${front} log:\n${proxy.log().slice(-2000)}`).toBe(expected)
      if (expected === 401) expect(fronted.challenge).toBe(direct.challenge)
      // A refusal is Postern's own answer, body and all (nginx asks again and relays it); a host
      // that is no service is named as such, with a word on X-Forwarded-Host for the proxy.
      if (expected === 401 || expected === 403) expect(fronted.body).toBe(direct.body)
      if (expected === 404) expect(JSON.parse(fronted.body).error.message).toContain('X-Forwarded-Host')
      const reached = upstream.seen.slice(before)
      if (expected === 200) {
        expect(reached).toHaveLength(1)
        const seen = reached[0]!
        expect(seen.url).toBe('/path?x=1')
        // Nothing the client sent in Postern's namespace, or posing as it, or as a proxy.
        const names = seen.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase().replace(/[^a-z0-9-]/g, '-'))
        expect(names.filter((n) => n.startsWith('x-postern-')).sort()).toEqual(['x-postern-authenticated-email', 'x-postern-authenticated-principal', 'x-postern-jwt-assertion'].slice(0, names.filter((n) => n.startsWith('x-postern-')).length))
        expect(Object.values(seen.headers).flat()).not.toContain('spoofed@example.com')
        expect(Object.values(seen.headers).flat()).not.toContain('user:spoofed@example.com')
        expect(names).not.toContain('forwarded')
        expect(names).not.toContain('x-real-ip')
        expect(names).not.toContain('x-forwarded-port')
        expect(names).not.toContain('x-forwarded-prefix')
        for (const name of ['client-ip', 'cf-connecting-ip', 'x-original-url', 'x-original-method', 'x-original-uri']) expect(names).not.toContain(name)
        // The service's own host, not the client's Host.
        expect(seen.headers['x-forwarded-host']).toBe(`${service}.my-project.localhost`)
        expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1')
        // The app's cookies, without Postern's.
        expect(seen.headers.cookie).toBe('app=1; theme=dark')
        // The verified token arrives without its signature; on a public service, where Postern
        // verifies none, a Postern token does not arrive at all (it would look verified).
        if (who === 'none' || service !== 'app') expect(seen.headers.authorization ?? '').toBe('')
        else expect(seen.headers.authorization).toBe(`Bearer ${tokens[who]!.slice(0, tokens[who]!.lastIndexOf('.'))}.SIGNATURE_REMOVED_BY_POSTERN`)
        if (service === 'app' && who === 'ann') {
          expect(seen.headers['x-postern-authenticated-email']).toBe('ann@example.com')
          expect(seen.headers['x-postern-authenticated-principal']).toBe('user:ann@example.com')
          expect(String(seen.headers['x-postern-jwt-assertion'])).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/)
        } else {
          // No identity for a public service: absent (nginx) or empty (Caddy copies empty headers).
          expect(seen.headers['x-postern-authenticated-email'] ?? '').toBe('')
          expect(seen.headers['x-postern-authenticated-principal'] ?? '').toBe('')
        }
      } else {
        expect(reached).toHaveLength(0)
      }
    })
  }

  it.each(['nginx', 'caddy'] as const)('%s: a client naming another service in its Host gets the verdict of the service the proxy carries', async (front) => {
    const port = frontFor(front, 'app').port
    const before = upstream.seen.length
    // pub is public, and bob may call it: neither opens app's upstream.
    expect((await call(port, 'pub', undefined)).status).toBe(401)
    expect((await call(port, 'pub', tokens.bob)).status).toBe(403)
    expect((await call(port, 'nope', tokens.bob)).status).toBe(403)
    expect(upstream.seen.length).toBe(before)
    const ann = await call(port, 'pub', tokens.ann)
    expect(ann.status).toBe(200)
    expect(upstream.seen.slice(before).map((s) => s.headers['x-postern-authenticated-email'])).toEqual(['ann@example.com'])
  })

  it.each(['nginx', 'caddy'] as const)('a WebSocket handshake through %s gets the gateway\'s verdict too (Caddy asks forward-auth with the Upgrade header on)', async (front) => {
    const port = frontFor(front, 'app').port
    const handshake = (token?: string) =>
      new Promise<number | string>((resolve) => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { headers: { host: `app.my-project.localhost:${port}`, ...(token && { authorization: `Bearer ${token}` }) } })
        ws.once('unexpected-response', (_req, res) => {
          resolve(res.statusCode ?? 0)
          ws.terminate()
        })
        ws.once('open', () => {
          resolve('opened')
          ws.close()
        })
        ws.once('error', (err) => resolve(err.message))
      })
    expect(await handshake()).toBe(401)
    expect(await handshake(tokens.bob)).toBe(403)
    // nginx's example passes no Upgrade to the upstream (its proxy_pass sets Connection ""): a plain 200 answer.
    expect(await handshake(tokens.ann)).toBe(front === 'caddy' ? 'opened' : 200)
  })

  it.each(['nginx', 'caddy'] as const)('a browser opening a private service through %s is sent to sign in', async (front) => {
    const port = frontFor(front, 'app').port
    const navigate = { accept: 'text/html', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' }
    const res = await request(`http://127.0.0.1:${port}/path?x=1`, { headers: { host: `app.my-project.localhost:${port}`, ...navigate } })
    await res.body.dump()
    expect(res.statusCode).toBe(302)
    // The service's URL is the gateway URL's (--gateway-url names the public one behind a proxy).
    expect(new URL(String(res.headers.location)).searchParams.get('return_to')).toBe(`http://app.my-project.localhost:${p.gatewayPort}/path?x=1`)
    expect(String(res.headers['set-cookie'])).toMatch(/^__Host-postern_state_/)
  })
})
