import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startCaddy, startNginx, startNginxTlsFront, type FrontProxy } from '../support/front-proxies.js'
import { freePort } from '../support/ports.js'
import { selfSignedCertificate } from '../support/self-signed.js'
import { startPostern, type PosternProcess } from '../support/server.js'
import { startUpstream } from '../support/upstream.js'
import { createUser } from '../support/web-sign-in.js'
import { launchChromium, signInAt } from './console-harness.js'

/**
 * Opening a private service in a browser when nginx (auth_request) or Caddy (forward_auth) carries
 * the bytes and Postern only decides, with the configurations in examples/: Debian's Chromium is
 * sent to sign in, comes back through the proxy to the URL it asked for, and the app sees the
 * person; someone without the role gets Postern's page saying so. Postern's gateway URL is the
 * proxy's (--gateway-url), as it is for anyone who puts a proxy in front.
 */
describe.each(['nginx', 'caddy'] as const)('a browser behind %s', (front) => {
  const password = 'correct horse battery staple'
  const carol = 'carol@example.com'
  const dave = 'dave@example.com'
  let p: PosternProcess
  let proxy: FrontProxy
  let browser: Browser
  let upstream: Awaited<ReturnType<typeof startUpstream>>
  let app: string

  beforeAll(async () => {
    upstream = await startUpstream()
    const port = await freePort()
    p = await startPostern({ args: ['--gateway-url', `http://localhost:${port}`] })
    await createUser(p.api, carol, password)
    await createUser(p.api, dave, password)
    for (const args of [['services', 'create', 'app', `--upstream=${upstream.url}`], ['services', 'add-iam-policy-binding', 'app', `--member=user:${carol}`, '--role=roles/run.invoker']]) {
      const r = await p.cli(args)
      expect(r.code, r.stderr).toBe(0)
    }
    const o = { upstream: upstream.url.replace('http://', ''), gateway: `127.0.0.1:${p.gatewayPort}`, serviceHost: `app.my-project.localhost:${port}`, port }
    proxy = front === 'nginx' ? await startNginx(o) : await startCaddy(o)
    app = `http://app.my-project.localhost:${port}`
    browser = await launchChromium()
  })
  afterAll(async () => {
    await browser?.close()
    await proxy?.stop()
    await p?.stop()
    await upstream?.close()
  })


  it('signs in through the proxy and comes back to the URL asked for; the app sees the person and none of Postern’s cookies', async () => {
    const context = await browser.newContext()
    const page = await context.newPage()
    const before = upstream.seen.length
    await page.goto(`${app}/app/page?x=1`)
    await signInAt(page, carol, password)
    await page.waitForURL(`${app}/app/page?x=1`)
    const echoed = JSON.parse((await page.textContent('body')) ?? '{}') as { url: string; headers: Record<string, string> }
    expect(echoed.url).toBe('/app/page?x=1')
    expect(echoed.headers['x-postern-authenticated-email']).toBe(carol)
    expect(echoed.headers.cookie ?? '').not.toMatch(/postern/i)
    // Postern's round trip (the callback on the app's host) never reached the app.
    expect(upstream.seen.slice(before).map((s) => s.url).filter((u) => u !== '/favicon.ico')).toEqual(['/app/page?x=1'])
    // The session holds: the next navigation goes straight to the app.
    const again = await page.goto(`${app}/next`)
    expect(again!.status()).toBe(200)
    expect(JSON.parse((await page.textContent('body')) ?? '{}').url).toBe('/next')
    await context.close()
  })

  it('shows someone without the role Postern’s page: who they are and how to ask', async () => {
    const context = await browser.newContext()
    const page = await context.newPage()
    await page.goto(`${app}/reports`)
    await signInAt(page, dave, password)
    await page.waitForURL(`${app}/reports`)
    const response = await page.reload()
    expect(response!.status()).toBe(403)
    expect(response!.headers()['content-type']).toContain('text/html')
    const text = (await page.textContent('body')) ?? ''
    expect(text).toContain('You do not have access to app')
    expect(text).toContain(`user:${dave}`)
    await context.close()
  })
})

/**
 * All of Postern behind nginx ending TLS with nginx's common `proxy_set_header Host $host`, which
 * drops the port (examples/nginx/postern-behind-tls.conf): Chromium's sign-in form posts from the
 * issuer's origin, and a page of the service opens its own WebSocket and posts to itself with
 * the session cookie, though neither origin is what Postern sees in Host.
 */
describe('a browser behind nginx ending TLS, Host $host', () => {
  const password = 'correct horse battery staple'
  const carol = 'carol@example.com'
  let p: PosternProcess
  let proxy: FrontProxy
  let browser: Browser
  let upstream: Awaited<ReturnType<typeof startUpstream>>
  let app: string

  beforeAll(async () => {
    upstream = await startUpstream()
    const [port, controlPort] = await Promise.all([freePort(), freePort()])
    p = await startPostern({ args: ['--gateway-url', `https://localhost:${port}`, '--issuer', `https://localhost:${controlPort}`, '--trusted-proxies', '127.0.0.1/32'] })
    await createUser(p.api, carol, password)
    for (const args of [['services', 'create', 'wsapp', `--upstream=${upstream.url}`], ['services', 'add-iam-policy-binding', 'wsapp', `--member=user:${carol}`, '--role=roles/run.invoker']]) {
      const r = await p.cli(args)
      expect(r.code, r.stderr).toBe(0)
    }
    proxy = await startNginxTlsFront({ gatewayPort: port, controlPort, gateway: `127.0.0.1:${p.gatewayPort}`, control: `127.0.0.1:${p.controlPort}`, tls: selfSignedCertificate() })
    app = `https://wsapp.my-project.localhost:${port}`
    browser = await launchChromium()
  })
  afterAll(async () => {
    await browser?.close()
    await proxy?.stop()
    await p?.stop()
    await upstream?.close()
  })

  it('signs in through the issuer’s origin, then the service’s page opens its WebSocket and posts to itself', async () => {
    const context = await browser.newContext({ ignoreHTTPSErrors: true })
    const page = await context.newPage()
    await page.goto(`${app}/page`)
    await signInAt(page, carol, password)
    await page.waitForURL(`${app}/page`)
    // Strings, not functions: the tests are compiled without the DOM library.
    const posted = await page.evaluate("fetch('/transfer', { method: 'POST', body: 'x' }).then((r) => r.status)")
    expect(posted).toBe(200)
    const echoed = await page.evaluate(`new Promise((resolve, reject) => {
      const ws = new WebSocket('wss://' + location.host + '/socket')
      ws.onopen = () => ws.send('hello')
      ws.onmessage = (e) => { resolve(String(e.data)); ws.close() }
      ws.onerror = () => reject(new Error('the WebSocket was refused'))
    })`)
    expect(echoed).toBe('hello')
    await context.close()
  })
})
