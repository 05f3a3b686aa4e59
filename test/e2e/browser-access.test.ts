import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { request, type Dispatcher } from 'undici'
import WebSocket from 'ws'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rawRequest } from '../support/raw-http.js'
import { DATA_PLANES, startPostern, type PosternProcess } from '../support/server.js'
import { createUser, signInUser } from '../support/sign-in.js'
import { startUpstream } from '../support/upstream.js'
import { NAVIGATE, browserSignIn as signIn } from '../support/browser-sign-in.js'
import { nginxHolds } from '../support/nginx-holds.js'

/**
 * The browser flow at the HTTP level, where a browser cannot go: which requests count as a
 * navigation (302 to sign in) and which keep their 401; the one-time code's checks; Postern's
 * paths on every spelling; Postern's cookies in both directions; the API field and CLI flag;
 * forward-auth answering as the gateway does.
 */
describe.each(DATA_PLANES)('browsers at the HTTP level (%s data plane)', (dataPlane) => {
  const password = 'correct horse battery staple'
  let p: PosternProcess
  let upstream: Awaited<ReturnType<typeof startUpstream>>
  let cookieSetter: Server
  let host: string
  let uri: string
  let annToken: string

  type Headers = Record<string, string | string[]>
  const gw = async (path: string, headers: Headers = {}, o: { method?: Dispatcher.HttpMethod; host?: string; body?: string } = {}) => {
    const res = await request(`http://127.0.0.1:${p.gatewayPort}${path}`, { method: o.method ?? 'GET', headers: { host: o.host ?? host, ...headers }, body: o.body })
    return { status: res.statusCode, headers: res.headers, body: await res.body.text() }
  }
  const setCookies = (h: Dispatcher.ResponseData['headers']) => [h['set-cookie'] ?? []].flat()

  const browserSignIn = (email: string, path = '/page', on = host) => signIn({ gatewayPort: p.gatewayPort, host: on, controlUrl: p.controlUrl, email, password, path })

  beforeAll(async () => {
    upstream = await startUpstream()
    // An upstream that tries to set and clear Postern's cookies.
    cookieSetter = createServer((req, res) => {
      const planted = '__Host-postern_service_session=planted; Path=/; Secure'
      const apps = (n: number) => Array.from({ length: n }, (_, i) => `app${i}=1`)
      // Past the 100 values nginx's Lua reads of a field by default: the plant last, or first.
      if (req.url === '/many') res.writeHead(200, { 'set-cookie': [...apps(100), planted] })
      else if (req.url === '/first') res.writeHead(200, { 'set-cookie': [planted, ...apps(150)] })
      else res.writeHead(200, { 'set-cookie': ['app=1', planted, 'postern_state_abc=1', '=postern_service_session=nameless', '__Host-postern_service_session=; Max-Age=0'] })
      res.end('ok')
    })
    await new Promise<void>((r) => cookieSetter.listen(0, '127.0.0.1', r))
    p = await startPostern({ dataPlane })
    await createUser(p, 'ann@example.com', password)
    for (const args of [
      ['services', 'create', 'hello', `--upstream=${upstream.url}`],
      ['services', 'create', 'other', `--upstream=${upstream.url}`],
      ['services', 'create', 'pub', `--upstream=${upstream.url}`, '--allow-unauthenticated'],
      ['services', 'create', 'setter', `--upstream=http://127.0.0.1:${(cookieSetter.address() as AddressInfo).port}`],
      ['services', 'add-iam-policy-binding', 'hello', '--member=user:ann@example.com', '--role=roles/run.invoker'],
      ['services', 'add-iam-policy-binding', 'other', '--member=user:ann@example.com', '--role=roles/run.invoker'],
      ['services', 'add-iam-policy-binding', 'setter', '--member=user:ann@example.com', '--role=roles/run.invoker'],
    ]) {
      const r = await p.cli(args)
      expect(r.code, r.stderr).toBe(0)
    }
    host = `hello.my-project.localhost:${p.gatewayPort}`
    uri = `http://${host}`
    annToken = (await signInUser(p, 'ann@example.com', password)).idToken
  })
  afterAll(async () => {
    await p?.stop()
    await upstream?.close()
    await new Promise((r) => cookieSetter?.close(r))
  })

  describe('a navigation is sent to sign in; everything else keeps its 401', () => {
    it.each([
      ['curl (Accept: */*)', { accept: '*/*' }],
      ['an API client', { accept: 'application/json' }],
      ['no Accept at all', {}],
      ['*/* preferred to text/html', { accept: '*/*, text/html;q=0.9' }],
      ['text/html refused (q=0)', { accept: 'text/html;q=0, */*' }],
      ['a fetch() asking for HTML', { accept: 'text/html', 'sec-fetch-mode': 'cors', 'sec-fetch-dest': 'empty' }],
      ['an iframe', { accept: 'text/html', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'iframe' }],
    ])('%s: 401 with WWW-Authenticate', async (_name, headers) => {
      const r = await gw('/page', headers)
      expect(r.status).toBe(401)
      expect(r.headers['www-authenticate']).toBe('Bearer realm="postern"')
      expect(setCookies(r.headers)).toEqual([])
    })

    it('a form post without a session is refused, not redirected (it could not be replayed after signing in)', async () => {
      const r = await gw('/page', NAVIGATE, { method: 'POST', body: 'a=1' })
      expect(r.status).toBe(401)
    })

    it.each([
      ['Sec-Fetch-Mode: navigate', { 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document', accept: '*/*' }],
      ['Accept: text/html first (no Fetch Metadata)', { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' }],
      ['Accept: text/html alone', { accept: 'text/html' }],
    ])('%s: 302 to the sign-in hand-off with the exact URL and a state cookie on this host', async (_name, headers) => {
      const r = await gw('/app/page?x=1&y=%2F', headers)
      expect(r.status).toBe(302)
      const location = new URL(r.headers.location as string)
      expect(location.origin + location.pathname).toBe(`${p.controlUrl}/signin/service`)
      expect(location.searchParams.get('return_to')).toBe(`${uri}/app/page?x=1&y=%2F`)
      const state = location.searchParams.get('state')!
      expect(state).toMatch(/^[\w-]{43}$/)
      const [cookie] = setCookies(r.headers)
      expect(cookie).toMatch(new RegExp(`^__Host-postern_state_${state.slice(0, 12)}=[\\w-]{43}; Path=/; HttpOnly; SameSite=Lax; Max-Age=600; Secure$`))
      expect(cookie).not.toMatch(/domain/i)
    })

    it('a request target a browser would read as another host is returned to as /', async () => {
      const r = await rawRequest(p.gatewayPort, `GET //evil.example/x HTTP/1.1\r\nHost: ${host}\r\nAccept: text/html\r\nConnection: close\r\n\r\n`)
      expect(r.status).toBe(302)
      const location = new URL(/location: (\S+)/i.exec(r.head)![1]!)
      expect(location.searchParams.get('return_to')).toBe(`${uri}/`)
    })

    it('API clients with a token are untouched: 200, and the Cookie header keeps only the app’s cookies', async () => {
      const r = await gw('/echo', { authorization: `Bearer ${annToken}`, accept: 'text/html', cookie: 'app=1; __Host-postern_service_session=x; postern_session=y; theme=dark' })
      expect(r.status).toBe(200)
      expect(JSON.parse(r.body).headers.cookie).toBe('app=1; theme=dark')
      // Several Cookie lines reach the upstream as one, joined as a browser would write it: a WSGI
      // server joins lines with ',' and its app would read app as '1,theme=dark'.
      const lines = await gw('/echo', { authorization: `Bearer ${annToken}`, cookie: ['app=1', 'postern_session=y', 'theme=dark'] })
      expect(lines.status).toBe(200)
      const raw = upstream.seen.at(-1)!.rawHeaders
      expect(raw.filter((_, i) => i % 2 === 0 && raw[i]!.toLowerCase() === 'cookie').length).toBe(1)
      expect(raw[raw.findIndex((n, i) => i % 2 === 0 && n.toLowerCase() === 'cookie') + 1]).toBe('app=1; theme=dark')
    })
  })

  describe('the session cookie', () => {
    it('admits the browser as its person, with identity headers and the signed assertion, and without Postern’s cookies upstream', async () => {
      const { cookie } = await browserSignIn('ann@example.com')
      const r = await gw('/echo', { cookie: `app=1; ${cookie}`, accept: 'application/json' })
      expect(r.status).toBe(200)
      const seen = JSON.parse(r.body).headers
      expect(seen['x-postern-authenticated-email']).toBe('ann@example.com')
      expect(seen['x-postern-authenticated-principal']).toBe('user:ann@example.com')
      expect(seen['x-postern-jwt-assertion']).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/)
      expect(seen.cookie).toBe('app=1')
    })

    it('is refused on another service’s host, when sent twice, or when the session ended; a navigation is then sent to sign in again and the cookie cleared', async () => {
      const { cookie, consoleCookie } = await browserSignIn('ann@example.com')
      const otherHost = `other.my-project.localhost:${p.gatewayPort}`
      const elsewhere = await gw('/echo', { cookie }, { host: otherHost })
      expect(elsewhere.status).toBe(401)
      expect(elsewhere.body).toContain('another service')
      const twice = await gw('/echo', { cookie: `${cookie}; ${cookie.replace(/=.*/, '=planted')}` })
      expect(twice.status).toBe(401)
      expect(twice.body).toContain('More than one Postern session cookie')

      // The console's sign-out ends it, within a second, in this process's cache too.
      expect((await gw('/echo', { cookie })).status).toBe(200)
      const agentSession = await fetch(`${p.controlUrl}/v1/session`, { headers: { cookie: consoleCookie } })
      const { csrfToken } = (await agentSession.json()) as { csrfToken: string }
      const out = await fetch(`${p.controlUrl}/signout`, { method: 'POST', headers: { cookie: consoleCookie, 'x-csrf-token': csrfToken } })
      expect(out.status).toBe(200)
      const start = Date.now()
      let status = 200
      while (status === 200 && Date.now() - start < 3_000) status = (await gw('/echo', { cookie })).status
      expect(status).toBe(401)
      expect(Date.now() - start).toBeLessThanOrEqual(1_000)
      const again = await gw('/page', { ...NAVIGATE, cookie })
      expect(again.status).toBe(302)
      expect(setCookies(again.headers)).toContainEqual('__Host-postern_service_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0; Secure')
    })

    it('an upstream cannot set or clear Postern’s cookies', async () => {
      const setter = `setter.my-project.localhost:${p.gatewayPort}`
      const { cookie } = await browserSignIn('ann@example.com', '/', setter)
      const r = await gw('/', { cookie }, { host: setter })
      expect(r.status).toBe(200)
      expect(setCookies(r.headers)).toEqual(['app=1'])
      const apps = (n: number) => Array.from({ length: n }, (_, i) => `app${i}=1`)
      expect(setCookies((await gw('/many', { cookie }, { host: setter })).headers)).toEqual(apps(100))
      expect(setCookies((await gw('/first', { cookie }, { host: setter })).headers)).toEqual(apps(150))
    })

    it('an answer to an admitted caller (the cookie, a token in either header) is marked private for shared caches, unless the upstream decided', async () => {
      const { cookie } = await browserSignIn('ann@example.com')
      const cacheControl = async (given: string[], headers: Headers, on = host) => {
        const r = await gw(`/cache?${given.map((v) => `cc=${encodeURIComponent(v)}`).join('&')}`, headers, { host: on })
        expect(r.status).toBe(200)
        return [r.headers['cache-control'] ?? []].flat()
      }
      const cases: [string[], string[]][] = [
        [[], ['private']],
        [['max-age=60'], ['max-age=60', 'private']],
        [['no-cache'], ['no-cache', 'private']],
        [['private="Set-Cookie", max-age=60'], ['private="Set-Cookie", max-age=60', 'private']],
        [['max-age=60, x-public'], ['max-age=60, x-public', 'private']],
        [['PRIVATE'], ['PRIVATE']],
        [['max-age=60,Public'], ['max-age=60,Public']],
        [['no-store'], ['no-store']],
        [['s-maxage = 30'], ['s-maxage = 30']],
        [['max-age=1, must-revalidate'], ['max-age=1, must-revalidate']],
      ]
      for (const [given, sent] of cases) expect(await cacheControl(given, { cookie }), given.join()).toEqual(sent)
      // A token in either header too: nginx's proxy_cache keeps answers to Authorization requests,
      // RFC 9111 §3.5 notwithstanding; `public` still lets the upstream share one.
      expect(await cacheControl(['max-age=60'], { 'x-serverless-authorization': `Bearer ${annToken}` })).toEqual(['max-age=60', 'private'])
      expect(await cacheControl(['max-age=60'], { authorization: `Bearer ${annToken}` })).toEqual(['max-age=60', 'private'])
      expect(await cacheControl(['public, max-age=60'], { authorization: `Bearer ${annToken}` })).toEqual(['public, max-age=60'])
      // A public service's answer is nobody's in particular.
      expect(await cacheControl(['max-age=60'], { cookie }, `pub.my-project.localhost:${p.gatewayPort}`)).toEqual(['max-age=60'])
    })

    it('a cross-origin unsafe request or WebSocket with the cookie is refused; same-origin ones pass', async () => {
      const { cookie } = await browserSignIn('ann@example.com')
      const before = upstream.seen.length
      const crossOrigin: Headers[] = [
        { origin: `http://evil.my-project.localhost:${p.gatewayPort}` },
        { origin: 'null' },
        { 'sec-fetch-site': 'same-site' },
        { 'sec-fetch-site': 'cross-site', origin: uri },
      ]
      for (const headers of crossOrigin) {
        const r = await gw('/transfer', { cookie, ...headers }, { method: 'POST', body: 'x' })
        expect(r.status, JSON.stringify(headers)).toBe(403)
      }
      const ws = new WebSocket(`ws://127.0.0.1:${p.gatewayPort}/socket`, { headers: { host, cookie, origin: 'http://evil.example' } })
      const refused = await new Promise<number>((resolve) => ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)))
      expect(refused).toBe(403)
      expect(upstream.seen.length).toBe(before)

      expect((await gw('/transfer', { cookie, origin: uri, 'sec-fetch-site': 'same-origin' }, { method: 'POST', body: 'x' })).status).toBe(200)
      const own = new WebSocket(`ws://127.0.0.1:${p.gatewayPort}/socket`, { headers: { host, cookie, origin: uri } })
      await new Promise((resolve, reject) => own.on('open', resolve).on('error', reject))
      own.close()
    })

    it('behind a proxy that drops the port from Host (nginx `proxy_set_header Host $host`), the service URL is still its own origin; other origins are still refused', async () => {
      const { cookie } = await browserSignIn('ann@example.com')
      const portless = 'hello.my-project.localhost'
      const before = upstream.seen.length
      for (const origin of [`http://${portless}`, `https://${portless}:${p.gatewayPort}`, `http://hello.my-project.localhost:${p.gatewayPort + 1}`, `http://other.my-project.localhost:${p.gatewayPort}`]) {
        const r = await gw('/transfer', { cookie, origin, 'sec-fetch-site': 'same-origin' }, { method: 'POST', body: 'x', host: portless })
        expect(r.status, origin).toBe(403)
      }
      const ws = new WebSocket(`ws://127.0.0.1:${p.gatewayPort}/socket`, { headers: { host: portless, cookie, origin: `http://${portless}` } })
      expect(await new Promise<number>((resolve) => ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)))).toBe(403)
      expect(upstream.seen.length).toBe(before)

      expect((await gw('/transfer', { cookie, origin: uri, 'sec-fetch-site': 'same-origin' }, { method: 'POST', body: 'x', host: portless })).status).toBe(200)
      const own = new WebSocket(`ws://127.0.0.1:${p.gatewayPort}/socket`, { headers: { host: portless, cookie, origin: uri } })
      await new Promise((resolve, reject) => own.on('open', resolve).on('error', reject))
      own.close()
    })
  })

  describe('open WebSockets', () => {
    it('a socket opened with the session closes within a second of the sign-in ending (signed out in the console)', async () => {
      const { cookie, consoleCookie } = await browserSignIn('ann@example.com')
      const ws = new WebSocket(`ws://127.0.0.1:${p.gatewayPort}/socket`, { headers: { host, cookie, origin: uri } })
      await new Promise((resolve, reject) => ws.on('open', resolve).on('error', reject))
      const closed = new Promise<number>((resolve) => ws.on('close', () => resolve(Date.now())))
      const { csrfToken } = (await (await fetch(`${p.controlUrl}/v1/session`, { headers: { cookie: consoleCookie } })).json()) as { csrfToken: string }
      const out = await fetch(`${p.controlUrl}/signout`, { method: 'POST', headers: { cookie: consoleCookie, 'x-csrf-token': csrfToken } })
      expect(out.status).toBe(200)
      const start = Date.now()
      const closedAt = await Promise.race([closed, new Promise<number>((r) => setTimeout(() => r(Infinity), 3_000))])
      expect(closedAt - start).toBeLessThanOrEqual(1_000)
    })
  })

  describe('the callback', () => {
    it('refuses a code without this browser’s state, a wrong or spent code, and malformed input, with a page and no session', async () => {
      const start = await gw('/page', NAVIGATE)
      const stateCookie = setCookies(start.headers)[0]!.split(';')[0]!
      const state = new URL(start.headers.location as string).searchParams.get('state')!
      for (const [query, cookie, text] of [
        [`code=x&state=${state}`, '', 'did not start in this browser'],
        [`code=x&state=${state}`, `${stateCookie.replace(/=.*/, '=')}${'B'.repeat(43)}`, 'did not start in this browser'],
        [`code=not-a-code&state=${state}`, stateCookie, 'already used or has expired'],
        [`state=${state}`, stateCookie, 'incomplete'],
        ['code=x&state=short', stateCookie, 'incomplete'],
        [`code=${'x'.repeat(5000)}&state=${state}`, stateCookie, 'incomplete'],
      ] as const) {
        const r = await gw(`/_postern/callback?${query}`, cookie ? { cookie } : {})
        expect(r.status, query).toBeGreaterThanOrEqual(400)
        expect(r.status, query).toBeLessThan(500)
        expect(r.body, query).toContain(text)
        expect(setCookies(r.headers).some((c) => c.startsWith('__Host-postern_service_session=') && !c.includes('Max-Age=0'))).toBe(false)
      }
    })
  })

  describe('Postern’s own paths', () => {
    it.each([
      '/_postern/anything', '/_postern', '/_POSTERN/callback', '/%5Fpostern/callback', '/%5fpostern/x', '/%255Fpostern/x', '/a/../_postern/x',
      '//_postern/x', '/_postern;x=1/callback', '/./_postern/x', '/_postern%2Fcallback',
    ])('%s is answered by the gateway on a private and a public service, never forwarded', async (path) => {
      const before = upstream.seen.length
      for (const h of [host, `pub.my-project.localhost:${p.gatewayPort}`]) {
        const r = await rawRequest(p.gatewayPort, `GET ${path} HTTP/1.1\r\nHost: ${h}\r\nAuthorization: Bearer ${annToken}\r\nConnection: close\r\n\r\n`)
        expect(r.status, `${h}${path}`).toBe(404)
      }
      expect(upstream.seen.length).toBe(before)
    })

    it('the app’s own look-alike paths pass', async () => {
      for (const path of ['/_posterns/x', '/x/_postern/y', '/postern/x']) expect((await gw(path, { authorization: `Bearer ${annToken}` })).status, path).toBe(200)
    })

    it('an upgrade to one of them is refused without running it', async () => {
      const r = await rawRequest(p.gatewayPort, `GET /_postern/signout HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`)
      expect(r.status).toBe(404)
    })

    it('sign-out asked for from another site asks first; a POST from another origin is refused; from the service, it ends the session', async () => {
      const { cookie } = await browserSignIn('ann@example.com')
      const ask = await gw('/_postern/signout', { cookie, 'sec-fetch-site': 'cross-site' })
      expect(ask.status).toBe(200)
      expect(ask.body).toContain('Sign out of Postern?')
      expect((await gw('/echo', { cookie })).status).toBe(200)
      expect((await gw('/_postern/signout', { cookie, origin: 'http://evil.example' }, { method: 'POST' })).status).toBe(403)
      expect((await gw('/echo', { cookie })).status).toBe(200)
      const out = await gw('/_postern/signout', { cookie, origin: uri }, { method: 'POST' })
      expect(out.status).toBe(200)
      expect(out.body).toContain('You are signed out')
      expect(setCookies(out.headers)).toEqual(['__Host-postern_service_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0; Secure'])
      expect((await gw('/echo', { cookie })).status).toBe(401)
    })
  })

  describe('services choose', () => {
    it('browserAccess is on by default, set by the API field and the CLI flag; off means 401 for browsers too', async () => {
      const created = await p.api<{ browserAccess: boolean }>('POST', '/v2/projects/my-project/services?serviceId=quiet', { upstream: upstream.url, browserAccess: false })
      expect(created.status).toBe(200)
      expect(created.body.browserAccess).toBe(false)
      // nginx reloads for the new service: its retired workers close the keep-alive connections
      // this test's pool would otherwise send on ("other side closed").
      if (dataPlane === 'nginx') await nginxHolds(p, 'quiet')
      expect((await p.api<{ browserAccess: boolean }>('GET', '/v2/projects/my-project/services/hello')).body.browserAccess).toBe(true)
      const quietHost = `quiet.my-project.localhost:${p.gatewayPort}`
      expect((await gw('/page', NAVIGATE, { host: quietHost })).status).toBe(401)
      expect((await gw('/_postern/signin?next=/', NAVIGATE, { host: quietHost })).status).toBe(400)

      const bad = await p.api('PATCH', '/v2/projects/my-project/services/quiet', { browserAccess: 'yes' })
      expect(bad.status).toBe(400)
      const usage = await p.cli(['services', 'update', 'quiet', '--browser-access=maybe'])
      expect(usage.code).toBe(2)
      expect(usage.stderr).toContain("--browser-access: expected on or off, got 'maybe'.")
      const on = await p.cli(['services', 'update', 'quiet', '--browser-access=on', '--format=json'])
      expect(on.code, on.stderr).toBe(0)
      expect(JSON.parse(on.stdout).browserAccess).toBe(true)
      expect((await gw('/page', NAVIGATE, { host: quietHost })).status).toBe(302)
      const described = await p.cli(['services', 'describe', 'quiet'])
      expect(described.stdout).toContain('browserAccess: true')
    })
  })

  // The gateway port answers forward-auth only when Postern carries the bytes itself.
  describe.skipIf(dataPlane === 'nginx')('forward-auth', () => {
    it('answers a navigation as the gateway does, and hands the proxy the Cookie header without Postern’s cookies', async () => {
      const fa = (headers: Headers) => request(`http://127.0.0.1:${p.gatewayPort}/forward-auth`, { headers: { host: `127.0.0.1:${p.gatewayPort}`, 'x-forwarded-host': host, 'x-original-uri': '/app?x=1', 'x-original-method': 'GET', ...headers } })
      const nav = await fa(NAVIGATE)
      await nav.body.dump()
      expect(nav.statusCode).toBe(302)
      expect(new URL(nav.headers.location as string).searchParams.get('return_to')).toBe(`${uri}/app?x=1`)
      expect(setCookies(nav.headers)[0]).toMatch(/^__Host-postern_state_/)

      const { cookie } = await browserSignIn('ann@example.com')
      const allowed = await fa({ cookie: `app=1; ${cookie}; theme=dark` })
      await allowed.body.dump()
      expect(allowed.statusCode).toBe(200)
      expect(allowed.headers['x-postern-authenticated-email']).toBe('ann@example.com')
      expect(allowed.headers['x-postern-cookie']).toBe('app=1; theme=dark')
    })
  })
})
