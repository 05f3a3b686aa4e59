import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { nginxHolds } from '../support/nginx-holds.js'
import { DATA_PLANES, startPostern, type PosternProcess } from '../support/server.js'
import { startUpstream } from '../support/upstream.js'
import { createUser } from '../support/web-sign-in.js'
import { launchChromium, signInAt } from './console-harness.js'
import { pageEventStream, pageWebSocketEcho } from './page-streams.js'

/**
 * Opening a private service in a browser (the identity-aware-proxy pattern), in Debian's
 * Chromium: a navigation without a token is sent to Postern's sign-in and back to the URL it
 * asked for, holding a session cookie for that service's host alone; IAM decides every request;
 * a person without the role sees who they are and how to ask; revoking, disabling and signing
 * out stop the browser within a second; WebSockets and event streams from the page work; no other host receives the
 * cookie; no return address leads off Postern's services; no other site can post with the cookie.
 * All of it on both data planes: through the nginx plane the same browser meets the same pages.
 */
// Set by each data plane's beforeAll: the planes' suites run one after the other.
let p: PosternProcess
let browser: Browser
let upstream: Awaited<ReturnType<typeof startUpstream>>
const password = 'correct horse battery staple'
const carol = 'carol@example.com'
const dave = 'dave@example.com'
let hello: string
let other: string
let evil: string

const json = async (page: Page) => JSON.parse((await page.textContent('body')) ?? '{}') as { method: string; url: string; headers: Record<string, string> }

const signInAs = (page: Page, email: string) => signInAt(page, email, password)

/**
 * Opens `url` again and again until the browser lands at /signin, or a second has passed: the
 * path it ends at. A change that ends a session takes effect within a second, not at once: the
 * Node gateway learns of it through the change feed, and the nginx plane holds a verdict for up to
 * a second.
 */
async function openedWithinASecond(page: Page, url: string): Promise<string> {
  const start = Date.now()
  let path = ''
  do {
    await page.goto(url)
    path = new URL(page.url()).pathname
  } while (path !== '/signin' && Date.now() - start < 1_000)
  return path
}

/** A fresh browser profile signed in as `email` on `url` (the service's page is showing at the end). */
async function signedIn(email: string, url: string): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext()
  const page = await context.newPage()
  await page.goto(url)
  await signInAs(page, email)
  await page.waitForURL((u) => u.origin === new URL(url).origin && !u.pathname.startsWith('/_postern'))
  return { context, page }
}

describe.each(DATA_PLANES)('a private service in a browser (%s data plane)', (dataPlane) => {
  beforeAll(async () => {
    upstream = await startUpstream()
    p = await startPostern({ dataPlane })
    await createUser(p.api, carol, password)
    await createUser(p.api, dave, password)
    for (const name of ['hello', 'other', 'evil']) {
      const created = await p.cli(['services', 'create', name, `--upstream=${upstream.url}`, '--format=json'])
      expect(created.code, created.stderr).toBe(0)
    }
    hello = `http://hello.my-project.localhost:${p.gatewayPort}`
    other = `http://other.my-project.localhost:${p.gatewayPort}`
    evil = `http://evil.my-project.localhost:${p.gatewayPort}`
    for (const [service, member] of [['hello', `user:${carol}`], ['other', `user:${carol}`], ['evil', 'allUsers']] as const) {
      const r = await p.cli(['services', 'add-iam-policy-binding', service, `--member=${member}`, '--role=roles/run.invoker'])
      expect(r.code, r.stderr).toBe(0)
    }
    if (dataPlane === 'nginx') await Promise.all(['hello', 'other', 'evil'].map((name) => nginxHolds(p, name)))
    browser = await launchChromium()
  })
  afterAll(async () => {
    await browser?.close()
    await p?.stop()
    await upstream?.close()
  })

  describe('opening a private service in a browser', () => {
    it('sends the browser to sign in and back to the exact URL, whose upstream sees the person and none of Postern’s cookies or paths', async () => {
      const context = await browser.newContext()
      const page = await context.newPage()
      const seenBefore = upstream.seen.length
      await page.goto(`${hello}/app/page?x=1&y=%2F`)
      await signInAs(page, carol)
      await page.waitForURL(`${hello}/app/page?x=1&y=%2F`)
      const echoed = await json(page)
      expect(echoed.url).toBe('/app/page?x=1&y=%2F')
      expect(echoed.headers['x-postern-authenticated-email']).toBe(carol)
      expect(echoed.headers['x-postern-authenticated-principal']).toBe(`user:${carol}`)
      expect(echoed.headers['x-postern-jwt-assertion']).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/)
      expect(echoed.headers.cookie ?? '').not.toMatch(/postern/i)
      // Nothing of the round trip reached the upstream: the page itself, once (and the favicon).
      const seen = upstream.seen.slice(seenBefore).map((s) => s.url).filter((u) => u !== '/favicon.ico')
      expect(seen).toEqual(['/app/page?x=1&y=%2F'])
      for (const s of upstream.seen.slice(seenBefore)) expect(JSON.stringify(s.headers)).not.toMatch(/postern_|code=/i)

      const cookies = await context.cookies(hello)
      const session = cookies.find((c) => c.name === '__Host-postern_service_session')
      expect(session).toMatchObject({ domain: 'hello.my-project.localhost', path: '/', httpOnly: true, secure: true, sameSite: 'Lax' })
      expect(cookies.filter((c) => /postern_state/.test(c.name))).toEqual([])
      await context.close()
    })
  })

  describe('who may use the session, and for how long', () => {
    it('shows a person without the role who they are, what they lack and how to ask; “Sign in as someone else” switches account', async () => {
      const { context, page } = await signedIn(dave, `${hello}/reports?q=1`)
      expect(page.url()).toBe(`${hello}/reports?q=1`)
      const response = await page.reload()
      expect(response!.status()).toBe(403)
      expect(response!.headers()['content-type']).toContain('text/html')
      const text = (await page.textContent('body')) ?? ''
      expect(text).toContain('You do not have access to hello')
      expect(text).toContain(`user:${dave}`)
      expect(text).toContain('run.routes.invoke')
      expect(text).toContain('projects/my-project/services/hello')
      expect(text).toContain('postern services request-access hello --project=my-project --for 2h --reason')
      await page.getByRole('link', { name: 'Sign in as someone else' }).click()
      await page.waitForURL((u) => u.pathname === '/signin')
      expect(await page.textContent('body')).toContain(`You are signed in as ${dave}`)
      await signInAs(page, carol)
      await page.waitForURL(`${hello}/reports?q=1`)
      expect((await json(page)).headers['x-postern-authenticated-email']).toBe(carol)
      await context.close()
    })

    it('an EventSource from the page carries the session and opens on the stream’s headers, before its first event', async () => {
      const { context, page } = await signedIn(carol, `${hello}/page`)
      try {
        const stream = await pageEventStream(page, '/events?ms=1500')
        expect(stream.data).toBe('first')
        expect(stream.opened, 'the stream opened only with its first event').toBeLessThan(1_000)
        expect(stream.message).toBeGreaterThanOrEqual(1_400)
        expect(upstream.seen.findLast((s) => s.url === '/events?ms=1500')!.headers['x-postern-authenticated-email']).toBe(carol)
      } finally {
        await context.close()
      }
    })

    it('WebSockets from the page carry the session; revoking the grant refuses the next navigation within a second and closes the socket', async () => {
      const { context, page } = await signedIn(carol, `${hello}/page`)
      const socketPage = await context.newPage()
      await socketPage.goto(`${hello}/socket-page`)
      const wsUrl = `ws://hello.my-project.localhost:${p.gatewayPort}/socket`
      const echoed = await pageWebSocketEcho(socketPage, wsUrl)
      expect(echoed).toBe('ping')
      const handshake = upstream.seen.findLast((s) => s.url === '/socket')!
      expect(handshake.headers['x-postern-authenticated-email']).toBe(carol)
      expect(handshake.headers.cookie ?? '').not.toMatch(/postern/i)

      const revoked = await p.cli(['services', 'remove-iam-policy-binding', 'hello', `--member=user:${carol}`, '--role=roles/run.invoker'])
      try {
        expect(revoked.code, revoked.stderr).toBe(0)
        const start = Date.now()
        let status = 0
        // When the refused navigation was sent, not when the browser had it: a reload takes time of its own.
        let sent = start
        while (Date.now() - start < 3_000 && status !== 403) {
          sent = Date.now()
          status = (await page.reload())!.status()
        }
        expect(status).toBe(403)
        expect(sent - start).toBeLessThanOrEqual(1_000)
        const closedAt = (await socketPage.evaluate('globalThis.closed')) as number
        expect(closedAt - start).toBeLessThanOrEqual(1_000)
      } finally {
        // The tests after this one sign carol in again.
        const granted = await p.cli(['services', 'add-iam-policy-binding', 'hello', `--member=user:${carol}`, '--role=roles/run.invoker'])
        expect(granted.code, granted.stderr).toBe(0)
        await context.close()
      }
    })

    it('disabling the account stops the browser within a second', async () => {
      const { context, page } = await signedIn(carol, `${hello}/page`)
      const disabled = await p.api('PATCH', `/v1/users/${carol}`, { disabled: true })
      try {
        expect(disabled.status).toBe(200)
        expect(await openedWithinASecond(page, `${hello}/page`)).toBe('/signin')
      } finally {
        // Enabled again whatever happened, or every later test would fail at carol's sign-in.
        expect((await p.api('PATCH', `/v1/users/${carol}`, { disabled: false })).status).toBe(200)
        await context.close()
      }
    })

    it('signing out on the service’s host ends the session everywhere: other services and the console sign in again', async () => {
      const { context, page } = await signedIn(carol, `${hello}/page`)
      await page.goto(`${other}/page`)
      await page.waitForURL(`${other}/page`)
      expect((await json(page)).headers['x-postern-authenticated-email']).toBe(carol)
      await page.goto(`${hello}/_postern/signout`)
      expect(await page.textContent('body')).toContain('You are signed out')
      expect((await context.cookies(hello)).map((c) => c.name)).not.toContain('__Host-postern_service_session')
      expect(await openedWithinASecond(page, `${other}/page`)).toBe('/signin')
      await page.goto(`${p.controlUrl}/console`)
      await page.waitForURL((u) => u.pathname === '/signin')
      await context.close()
    })

    it('signing out in the console ends the services’ sessions within a second', async () => {
      const { context, page } = await signedIn(carol, `${hello}/page`)
      await page.goto(`${p.controlUrl}/console/projects/my-project/services`)
      await page.getByRole('button', { name: 'Sign out' }).click()
      await page.waitForURL((u) => u.pathname === '/signin')
      expect(await openedWithinASecond(page, `${hello}/page`)).toBe('/signin')
      await context.close()
    })

    it('another service’s host never receives the cookie', async () => {
      const { context, page } = await signedIn(carol, `${hello}/page`)
      const value = (await context.cookies(hello)).find((c) => c.name === '__Host-postern_service_session')!.value
      expect(await context.cookies(other)).toEqual([])
      const sent: string[] = []
      page.on('request', (r) => {
        if (new URL(r.url()).host !== new URL(hello).host) void r.allHeaders().then((h) => sent.push(`${r.url()} ${h.cookie ?? ''}`))
      })
      await page.goto(`${other}/page`)
      await page.waitForURL(`${other}/page`)
      await page.goto(`${evil}/page`)
      expect(sent.length).toBeGreaterThan(0)
      for (const line of sent) expect(line).not.toContain(value)
      // Its own session on `other` is another cookie, of another value.
      expect((await context.cookies(other)).find((c) => c.name === '__Host-postern_service_session')!.value).not.toBe(value)
      await context.close()
    })
  })

  describe('what other sites cannot make the browser do', () => {
    const STATE = 'A'.repeat(43)
    /** Every request the browser makes to evil.example is recorded and aborted. */
    async function watchEvil(context: BrowserContext): Promise<string[]> {
      const hits: string[] = []
      await context.route(/^https?:\/\/([^/]*\.)?evil\.example(:\d+)?\//, (route) => {
        hits.push(route.request().url())
        return route.abort()
      })
      return hits
    }

    it('the sign-in hand-off refuses every return address that is not a path on a service', async () => {
      const { context, page } = await signedIn(carol, `${hello}/page`)
      const hits = await watchEvil(context)
      const gatewayHost = `my-project.localhost:${p.gatewayPort}`
      for (const returnTo of [
        'https://evil.example/',
        '//evil.example/',
        '/\\evil.example/',
        'https:evil.example',
        'javascript:alert(1)',
        `${hello}//evil.example/`,
        `${hello}/\\evil.example/`,
        `http://evil.example@hello.${gatewayHost}/`,
        `http://hello.${gatewayHost}.evil.example/`,
        `http://hello.my-project.localhost:1/`,
        `https://hello.${gatewayHost}/`,
        `http://nosuch.${gatewayHost}/`,
        `${hello}/_postern/signout`,
      ]) {
        for (const encoded of [encodeURIComponent(returnTo), encodeURIComponent(encodeURIComponent(returnTo))]) {
          const res = await page.goto(`${p.controlUrl}/signin/service?return_to=${encoded}&state=${STATE}`)
          expect(res!.status(), returnTo).toBe(400)
          expect(new URL(page.url()).origin, returnTo).toBe(p.controlUrl)
        }
      }
      // An encoded slash is a path on the service, opened there.
      await page.goto(`${p.controlUrl}/signin/service?return_to=${encodeURIComponent(`${hello}/%2F%2Fevil.example`)}&state=${STATE}`)
      await page.waitForURL((u) => u.pathname.startsWith('/_postern/callback'))
      expect(new URL(page.url()).host).toBe(new URL(hello).host)
      expect(hits).toEqual([])
      await context.close()
    })

    it('the gateway returns only to paths on the service’s own host, whatever next= or the request target says', async () => {
      const { context, page } = await signedIn(carol, `${hello}/page`)
      const hits = await watchEvil(context)
      for (const next of ['https://evil.example/', '//evil.example', '/\\evil.example', '%2F%2Fevil.example', '/%2F/evil.example', `${other}/page`]) {
        await page.goto(`${hello}/_postern/signin?next=${encodeURIComponent(next)}`)
        await page.waitForURL((u) => u.host === new URL(hello).host && !u.pathname.startsWith('/_postern'))
        const landed = new URL(page.url())
        expect(landed.pathname === '/' || landed.pathname === '/%2F/evil.example', next).toBe(true)
      }
      expect(hits).toEqual([])
      await context.close()
    })

    it('a return address moved to another service’s host is refused there: the flow’s state is not in that host’s cookies', async () => {
      const context = await browser.newContext()
      const page = await context.newPage()
      // The flow starts on hello (its state cookie is set there); the hand-off is then asked for other's URL with that state.
      await page.goto(`${hello}/page`)
      await page.waitForURL((u) => u.pathname === '/signin')
      const handOff = new URL(new URL(page.url()).searchParams.get('return_to')!, p.controlUrl)
      handOff.searchParams.set('return_to', `${other}/page`)
      await page.goto(handOff.href)
      await signInAs(page, carol)
      await page.waitForURL((u) => u.host === new URL(other).host)
      expect(page.url()).toContain('/_postern/callback')
      expect(await page.textContent('body')).toContain('did not start in this browser')
      expect(await context.cookies(other)).toEqual([])
      await context.close()
    })

    it('a callback URL made for one browser is refused in another (no login CSRF); its own browser can still use it', async () => {
      const victim = await signedIn(carol, `${hello}/page`)
      const attacker = await browser.newContext()
      const attackerPage = await attacker.newPage()
      let captured = ''
      await attacker.route(`${hello}/_postern/callback?**`, (route) => {
        captured = route.request().url()
        // ERR_ABORTED: the navigation just stops. Another error would leave an error page that
        // Chromium may load again by itself, spending the code before the attacker's own goto.
        return route.abort('aborted')
      })
      await attackerPage.goto(`${hello}/page`).catch(() => undefined)
      await signInAs(attackerPage, dave)
      await expect.poll(() => captured).toContain('code=')

      const res = await victim.page.goto(captured)
      expect(res!.status()).toBe(400)
      expect(await victim.page.textContent('body')).toContain('did not start in this browser')
      await victim.page.goto(`${hello}/page`)
      expect((await json(victim.page)).headers['x-postern-authenticated-email']).toBe(carol)

      await attacker.unroute(`${hello}/_postern/callback?**`)
      const own = await attackerPage.goto(captured)
      // Said with the page, so a failure tells which answer came instead.
      expect(own!.url(), `${own!.status()} ${await attackerPage.textContent('body')}`).toBe(`${hello}/page`)
      expect(await attackerPage.textContent('body')).toContain(`user:${dave}`)
      // And the code is spent.
      expect((await attackerPage.goto(captured))!.status()).toBe(400)
      await attacker.close()
      await victim.context.close()
    })

    it('posts, fetches and WebSockets with the cookie from another site or a sibling service are refused; the service’s own page may', async () => {
      const { context, page } = await signedIn(carol, `${hello}/page`)
      const posts = () => upstream.seen.filter((s) => s.method === 'POST' && s.url.startsWith('/transfer')).map((s) => s.url)
      const submit = (target: string) => `(() => {
        const form = document.createElement('form')
        form.method = 'POST'
        form.action = ${JSON.stringify(target)}
        const input = document.createElement('input')
        input.name = 'amount'
        input.value = '100'
        form.appendChild(input)
        document.body.appendChild(form)
        form.submit()
      })()`

      // Another site (127.0.0.1 is not the services' site): SameSite=Lax withholds the cookie.
      const attacker = await context.newPage()
      await attacker.goto(`${upstream.url}/attacker`)
      const crossSite = attacker.waitForNavigation()
      await attacker.evaluate(submit(`${hello}/transfer?from=cross-site-form`))
      expect((await crossSite)!.status()).toBe(401)

      // A sibling service is the same site, so the cookie goes along: its Origin is refused.
      await attacker.goto(`${evil}/attacker`)
      const sibling = attacker.waitForNavigation()
      await attacker.evaluate(submit(`${hello}/transfer?from=sibling-form`))
      const refused = await sibling
      expect(refused!.status()).toBe(403)
      // Refused before its body is read: the connection may close under the browser (a network error to fetch).
      await attacker.evaluate(`fetch(${JSON.stringify(`${hello}/transfer?from=sibling-fetch`)}, { method: 'POST', credentials: 'include', mode: 'no-cors', body: 'x' }).catch(() => undefined)`)
      const socket = await attacker.evaluate(`new Promise((resolve) => {
        const ws = new WebSocket(${JSON.stringify(`ws://hello.my-project.localhost:${p.gatewayPort}/transfer?from=sibling-socket`)})
        ws.onopen = () => resolve('open')
        ws.onerror = () => resolve('refused')
      })`)
      expect(socket).toBe('refused')

      // The service's own page posts with its session.
      const own = await page.evaluate(`fetch('/transfer?from=own-page', { method: 'POST', body: 'x' }).then((r) => r.json())`) as { headers: Record<string, string> }
      expect(own.headers['x-postern-authenticated-email']).toBe(carol)
      expect(posts()).toEqual(['/transfer?from=own-page'])
      expect(upstream.seen.some((s) => s.url.includes('sibling-socket'))).toBe(false)
      await context.close()
    })
  })

  describe('services choose', () => {
    it('--browser-access=off: browsers get 401 as any caller without a token, and a session no longer admits them', async () => {
      const { context, page } = await signedIn(carol, `${hello}/page`)
      const off = await p.cli(['services', 'update', 'hello', '--browser-access=off', '--format=json'])
      expect(off.code, off.stderr).toBe(0)
      expect(JSON.parse(off.stdout).browserAccess).toBe(false)
      // Within a second (the nginx plane holds a verdict for up to a second).
      const start = Date.now()
      let res = await page.reload()
      while (res!.status() !== 401 && Date.now() - start < 1_000) res = await page.reload()
      expect(res!.status()).toBe(401)
      expect(page.url()).toBe(`${hello}/page`)
      const fresh = await browser.newContext()
      const freshPage = await fresh.newPage()
      expect((await freshPage.goto(`${hello}/page`))!.status()).toBe(401)
      expect(freshPage.url()).toBe(`${hello}/page`)
      expect((await p.cli(['services', 'update', 'hello', '--browser-access=on'])).code).toBe(0)
      await expect.poll(async () => (await page.reload())!.status()).toBe(200)
      await fresh.close()
      await context.close()
    })
  })
})
