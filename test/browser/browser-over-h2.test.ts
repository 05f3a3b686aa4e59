import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { nginxHolds } from '../support/nginx-holds.js'
import { selfSignedCertificate } from '../support/self-signed.js'
import { DATA_PLANES, startPostern, type PosternProcess } from '../support/server.js'
import { startUpstream } from '../support/upstream.js'
import { launchChromium, signInAt } from './console-harness.js'
import { pageEventStream, pageWebSocketEcho } from './page-streams.js'

/**
 * A private service opened in Debian's Chromium over HTTPS, where the browser and the gateway
 * choose HTTP/2 by ALPN: the sign-in round trip, the session cookie, the page's fetches with the
 * app's own cookies (a browser sends several cookies over HTTP/2 as it likes, one field or many),
 * an event stream and a WebSocket (which Chromium opens over HTTP/1.1 beside the HTTP/2
 * connection, as the gateway offers no WebSockets over HTTP/2). On both data planes; nginx hands
 * HTTP/2 streams to Postern's gateway.
 */
let p: PosternProcess
let browser: Browser
let upstream: Awaited<ReturnType<typeof startUpstream>>
const password = 'correct horse battery staple'
const carol = 'carol@example.com'

type Echo = { headers: Record<string, string> }

describe.each(DATA_PLANES)('a private service in a browser over HTTPS and HTTP/2 (%s data plane)', (dataPlane) => {
  let hello: string
  let context: BrowserContext
  let page: Page
  let env: Record<string, string>

  beforeAll(async () => {
    const tls = selfSignedCertificate()
    upstream = await startUpstream()
    // The control plane is served over TLS too: the CLI trusts the test's certificate.
    env = { NODE_EXTRA_CA_CERTS: tls.cert }
    p = await startPostern({ dataPlane, args: ['--tls-cert', tls.cert, '--tls-key', tls.key], env })
    for (const args of [
      ['users', 'create', carol, '--password-stdin'],
      ['services', 'create', 'hello', `--upstream=${upstream.url}`],
      ['services', 'add-iam-policy-binding', 'hello', `--member=user:${carol}`, '--role=roles/run.invoker'],
    ]) {
      const r = await p.cli(args, { env, stdin: password + '\n' })
      expect(r.code, r.stderr).toBe(0)
    }
    if (dataPlane === 'nginx') await nginxHolds(p, 'hello', env)
    hello = `https://hello.my-project.localhost:${p.gatewayPort}`
    browser = await launchChromium()
    // The certificate is the test's own: trusted by this context alone.
    context = await browser.newContext({ ignoreHTTPSErrors: true })
    page = await context.newPage()
  })
  afterAll(async () => {
    await browser?.close()
    await p?.stop()
    await upstream?.close()
  })

  it('signs in and comes back over HTTP/2, with a session cookie for the service’s host alone', async () => {
    await page.goto(`${hello}/app/page?x=1`)
    await signInAt(page, carol, password)
    await page.waitForURL(`${hello}/app/page?x=1`)
    expect(await page.evaluate("performance.getEntriesByType('navigation')[0].nextHopProtocol")).toBe('h2')
    const echoed = JSON.parse((await page.textContent('body')) ?? '{}') as Echo
    expect(echoed.headers['x-postern-authenticated-email']).toBe(carol)
    expect(echoed.headers.cookie ?? '').not.toMatch(/postern/i)
    const session = (await context.cookies(hello)).find((c) => c.name === '__Host-postern_service_session')
    expect(session).toMatchObject({ domain: 'hello.my-project.localhost', secure: true, httpOnly: true, sameSite: 'Lax' })
  })

  it('the page’s fetches carry the session and a body; the upstream gets every cookie of the app’s in one header and none of Postern’s', async () => {
    await page.evaluate("document.cookie = 'theme=dark; path=/'; document.cookie = 'cart=3; path=/'; document.cookie = 'lang=fr; path=/'")
    const fetched = (await page.evaluate(`fetch('/upload', { method: 'POST', body: 'x'.repeat(100000) })
      .then(async (r) => ({ status: r.status, body: await r.json() }))`)) as { status: number; body: { length: number } }
    expect(fetched).toEqual({ status: 200, body: expect.objectContaining({ length: 100_000 }) })
    expect(await page.evaluate("performance.getEntriesByType('resource').findLast((e) => e.name.endsWith('/upload')).nextHopProtocol")).toBe('h2')
    const seen = upstream.seen.findLast((s) => s.url === '/upload')!
    expect(seen.headers['x-postern-authenticated-email']).toBe(carol)
    expect(String(seen.headers.cookie).split('; ').sort()).toEqual(['a=1', 'b=2', 'cart=3', 'lang=fr', 'theme=dark'])
    expect(seen.rawHeaders.filter((h, i) => i % 2 === 0 && h.toLowerCase() === 'cookie')).toHaveLength(1)
  })

  it('an event stream opens on its headers, and a WebSocket (over HTTP/1.1 beside it) carries the session', async () => {
    const opened = await pageEventStream(page, '/events?ms=1500')
    expect(opened.data).toBe('first')
    // Debian 12's nginx (1.22) keeps an HTTP/2 answer's headers in its TLS buffer until the first
    // bytes of the body (nginx ticket #1743, mended in 1.23.0), whoever is behind it: through the
    // nginx plane such a stream opens with its first event (README, "Two data planes").
    if (dataPlane === 'node') expect(opened.opened, 'the stream opened only with its first event').toBeLessThan(1_000)

    const echoed = await pageWebSocketEcho(page, `wss://hello.my-project.localhost:${p.gatewayPort}/socket`)
    expect(echoed).toBe('ping')
    const handshake = upstream.seen.findLast((s) => s.url === '/socket')!
    expect(handshake.headers['x-postern-authenticated-email']).toBe(carol)
    expect(handshake.headers.cookie ?? '').not.toMatch(/postern/i)
  })

  it('revoking the grant refuses the next request within a second, over the same HTTP/2 connection', async () => {
    const revoked = await p.cli(['services', 'remove-iam-policy-binding', 'hello', `--member=user:${carol}`, '--role=roles/run.invoker'], { env })
    expect(revoked.code, revoked.stderr).toBe(0)
    const start = Date.now()
    let status = 0
    let sent = start
    while (Date.now() - start < 3_000 && status !== 403) {
      sent = Date.now()
      status = (await page.evaluate("fetch('/api/items').then((r) => r.status)")) as number
    }
    expect(status).toBe(403)
    expect(sent - start).toBeLessThanOrEqual(1_000)
  })
})
