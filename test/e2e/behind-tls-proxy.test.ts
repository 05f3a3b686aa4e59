import { readFileSync } from 'node:fs'
import { Agent, request } from 'undici'
import WebSocket from 'ws'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { browserSignIn } from '../support/browser-sign-in.js'
import { curl } from '../support/curl.js'
import { startNginxTlsFront, type FrontProxy } from '../support/front-proxies.js'
import { freePort } from '../support/ports.js'
import { selfSignedCertificate } from '../support/self-signed.js'
import { DATA_PLANES, startPostern, type PosternProcess } from '../support/server.js'
import { createUser } from '../support/sign-in.js'
import { startUpstream } from '../support/upstream.js'
import { startWsgiUpstream } from '../support/wsgi-upstream.js'

/**
 * All of Postern behind Debian's nginx ending TLS, as an operator puts it on a real host
 * (examples/nginx/postern-behind-tls.conf: --gateway-url and --issuer https://…, nginx's common
 * `proxy_set_header Host $host`, which drops the port): callers speak https, nginx speaks plain
 * HTTP to Postern. The app (a real WSGI app) must still learn that its callers use https, and a
 * browser's own origin must still be its own: the service URL's on the gateway (its WebSocket
 * and POSTs), the issuer's on the control plane (the sign-in form).
 */
describe.each(DATA_PLANES)('Postern behind nginx ending TLS, Host $host (%s data plane)', (dataPlane) => {
  const password = 'correct horse battery staple'
  let p: PosternProcess
  let front: FrontProxy
  let app: Awaited<ReturnType<typeof startWsgiUpstream>>
  let sockets: Awaited<ReturnType<typeof startUpstream>>
  let port: number
  let controlPort: number
  let ca: Buffer
  let tlsAgent: Agent

  beforeAll(async () => {
    ;[app, sockets, port, controlPort] = await Promise.all([startWsgiUpstream(), startUpstream(), freePort(), freePort()])
    p = await startPostern({ dataPlane, args: ['--gateway-url', `https://localhost:${port}`, '--issuer', `https://localhost:${controlPort}`, '--trusted-proxies', '127.0.0.1/32'] })
    await createUser(p, 'ann@example.com', password)
    for (const args of [
      ['services', 'create', 'app', `--upstream=${app.url}`],
      ['services', 'create', 'wsapp', `--upstream=${sockets.url}`],
      ['services', 'add-iam-policy-binding', 'wsapp', '--member=user:ann@example.com', '--role=roles/run.invoker'],
    ]) {
      const r = await p.cli(args)
      expect(r.code, r.stderr).toBe(0)
    }
    const tls = selfSignedCertificate()
    ca = readFileSync(tls.cert)
    tlsAgent = new Agent({ connect: { ca } })
    front = await startNginxTlsFront({ gatewayPort: port, controlPort, gateway: `127.0.0.1:${p.gatewayPort}`, control: `127.0.0.1:${p.controlPort}`, tls })
  })
  afterAll(async () => {
    await Promise.all([front?.stop(), p?.stop(), app?.close(), sockets?.close(), tlsAgent?.close()])
  })

  /** A request through nginx, to 127.0.0.1 on `to` (its certificate names it) with the Host a browser sends. */
  const viaNginx = async (to: number, host: string, path: string, o: { method?: 'GET' | 'POST'; headers?: Record<string, string>; body?: string } = {}) => {
    const res = await request(`https://127.0.0.1:${to}${path}`, { dispatcher: tlsAgent, method: o.method ?? 'GET', headers: { host, ...o.headers }, body: o.body })
    return { status: res.statusCode, headers: res.headers, body: await res.body.text() }
  }

  it('tells the app its callers use https, and the service URL is the https one', async () => {
    const host = `app.my-project.localhost:${port}`
    const described = await p.cli(['services', 'describe', 'app', '--format=value(status.url)'])
    expect(described.stdout.trim()).toBe(`https://${host}`)
    const token = await p.ownerIdToken()
    const res = await curl(['-k', '--resolve', `app.my-project.localhost:${port}:127.0.0.1`, '-H', `Authorization: Bearer ${token}`, `https://${host}/page`])
    expect(res.code, res.stderr).toBe(0)
    const environ = JSON.parse(res.stdout) as Record<string, string>
    expect(environ.HTTP_X_FORWARDED_PROTO).toBe('https')
    // nginx's Host has no port; the app is told the service URL's host all the same.
    expect(environ.HTTP_X_FORWARDED_HOST).toBe(host)
  })

  it('a browser session’s same-origin WebSocket and POST pass (Origin is the service URL); another origin, port or scheme is refused', async () => {
    const host = `wsapp.my-project.localhost:${port}`
    const own = `https://${host}`
    const { cookie } = await browserSignIn({ gatewayPort: p.gatewayPort, host, controlUrl: p.controlUrl, email: 'ann@example.com', password })
    const post = (origin: string) => viaNginx(port, host, '/transfer', { method: 'POST', headers: { cookie, origin, 'sec-fetch-site': 'same-origin' }, body: 'x' })
    const before = sockets.seen.length
    for (const origin of ['https://wsapp.my-project.localhost', `http://${host}`, `https://wsapp.my-project.localhost:${port + 1}`, `https://app.my-project.localhost:${port}`]) {
      const refused = await post(origin)
      expect(refused.status, origin).toBe(403)
      expect(refused.body).toContain('from another origin')
    }
    expect(sockets.seen.length).toBe(before)
    expect((await post(own)).status).toBe(200)

    const open = (origin: string) => new WebSocket(`wss://127.0.0.1:${port}/socket`, { ca, headers: { host, cookie, origin } })
    const foreign = open('https://wsapp.my-project.localhost')
    expect(await new Promise<number>((resolve) => foreign.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)))).toBe(403)
    const ws = open(own)
    await new Promise((resolve, reject) => ws.on('open', resolve).on('error', reject))
    const echoed = new Promise<string>((resolve) => ws.on('message', (m) => resolve(String(m))))
    ws.send('hello')
    expect(await echoed).toBe('hello')
    ws.close()
  })

  it('the sign-in form posts from the issuer’s origin, through nginx (Host without its port) or with nginx’s default Host (Postern’s own address); another origin is refused', async () => {
    const controlHost = `localhost:${controlPort}`
    const issuer = `https://${controlHost}`
    const form = await viaNginx(controlPort, controlHost, '/signin?return_to=%2Fconsole', { headers: { accept: 'text/html' } })
    expect(form.status).toBe(200)
    const token = /name="form_token" value="([^"]+)"/.exec(form.body)![1]!
    const formCookie = [form.headers['set-cookie']].flat()[0]!.split(';')[0]!
    const fields = new URLSearchParams({ email: 'ann@example.com', password, form_token: token, return_to: '/console' }).toString()
    const headers = (origin: string) => ({ cookie: formCookie, origin, 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' })
    const signIn = (origin: string) => viaNginx(controlPort, controlHost, '/signin', { method: 'POST', headers: headers(origin), body: fields })

    for (const origin of ['https://evil.example', `https://localhost:${controlPort + 1}`, `http://${controlHost}`, `https://wsapp.my-project.localhost:${port}`]) {
      const refused = await signIn(origin)
      expect(refused.status, origin).toBe(400)
      expect(refused.body).toContain('did not come from this site')
    }
    expect((await signIn(issuer)).status).toBe(303)
    // nginx without a Host line sends its proxy_pass address: Postern's own, as here.
    const direct = await request(`${p.controlUrl}/signin`, { method: 'POST', headers: headers(issuer), body: fields })
    await direct.body.dump()
    expect(direct.statusCode).toBe(303)
  })
})
