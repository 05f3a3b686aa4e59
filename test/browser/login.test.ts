import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdtempSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startAttackerPage } from '../support/attacker-page.js'
import { startLogin } from '../support/device-login.js'
import { recordingBrowser } from '../support/recording-browser.js'
import { startPostern, type PosternProcess } from '../support/server.js'
import { storedSignIn } from '../support/stored-credentials.js'
import { authorizeParams, claimsOf, createUser, pkcePair, token } from '../support/web-sign-in.js'

/**
 * `postern auth login` end to end with a real browser: the CLI opens the sign-in URL
 * (through $BROWSER, a script that records it), headless Chromium signs in by the labelled
 * fields, and the CLI ends up signed in; then the same with --no-browser and the device page.
 */
let p: PosternProcess
let browser: Browser
const password = 'correct horse battery staple'
const carol = 'carol@example.com'
const dave = 'dave@example.com'
let configDir: string

beforeAll(async () => {
  p = await startPostern()
  await createUser(p.api, carol, password)
  await createUser(p.api, dave, password)
  configDir = mkdtempSync(join(tmpdir(), 'postern-login-'))
  expect((await p.cli(['config', 'set', 'server', p.controlUrl], { configDir })).code).toBe(0)
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  })
})
afterAll(async () => {
  await browser?.close()
  await p?.stop()
})

async function signIn(page: Page, email: string): Promise<void> {
  await expect.poll(() => new URL(page.url()).pathname).toBe('/signin')
  await page.getByLabel('Email').fill(email)
  await page.getByLabel('Password').fill(password)
  await page.getByRole('button', { name: 'Sign in' }).click()
}


describe('postern auth login', () => {
  it('opens the browser, which signs in; the CLI is signed in and prints a token for that user', async () => {
    const recorder = recordingBrowser()
    const login = startLogin([], { configDir, env: { BROWSER: recorder.command } })
    await expect.poll(recorder.url, { timeout: 20_000 }).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/oauth2\/authorize\?/)
    const url = new URL(recorder.url()!)
    expect(url.searchParams.get('code_challenge_method')).toBe('S256')
    expect(url.searchParams.get('redirect_uri')).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/)

    const context = await browser.newContext()
    const page = await context.newPage()
    await page.goto(url.href)
    await signIn(page, carol)
    await expect.poll(() => page.textContent('body')).toContain('You are signed in to Postern')
    await context.close()

    const done = await login.done
    expect(done.code, done.stderr).toBe(0)
    expect(done.stderr).toContain(`You are now logged in as [${carol}].`)
    const printed = await p.cli(['auth', 'print-identity-token'], { configDir })
    expect(printed.code, printed.stderr).toBe(0)
    expect(claimsOf(printed.stdout.trim())).toMatchObject({ email: carol, aud: 'postern-cli', iss: p.controlUrl })
  })

  it('a client waiting at http://[::1] (RFC 8252 §7.3) gets its code after the sign-in form, which CSP cannot name it in', async () => {
    const callbacks: string[] = []
    const client = createServer((req, res) => {
      // The callback alone: Chromium may also ask this origin for its /favicon.ico.
      if (req.url?.startsWith('/callback')) callbacks.push(req.url)
      res.end('client got it')
    })
    await new Promise<void>((resolve) => client.listen(0, '::1', resolve))
    try {
      const redirectUri = `http://[::1]:${(client.address() as AddressInfo).port}/callback`
      const { verifier, challenge } = pkcePair()
      const context = await browser.newContext()
      const page = await context.newPage()
      await page.goto(`${p.controlUrl}/oauth2/authorize?${new URLSearchParams(authorizeParams(challenge, { redirect_uri: redirectUri }) as Record<string, string>)}`)
      await signIn(page, carol)
      await expect.poll(() => callbacks.length, { timeout: 20_000 }).toBe(1)
      await context.close()
      const code = new URL(callbacks[0]!, redirectUri).searchParams.get('code')!
      const redeemed = await token(p.controlUrl, { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: redirectUri, client_id: 'postern-cli' })
      expect(redeemed.status, JSON.stringify(redeemed.body)).toBe(200)
      expect(claimsOf(redeemed.body.id_token!)).toMatchObject({ email: carol })
    } finally {
      client.close()
    }
  })

  it('--no-browser prints a URL and a code; approving it on the device page signs the CLI in as a second, active account', async () => {
    const login = startLogin(['--no-browser'], { configDir })
    const { url, code, complete } = await login.prompt
    expect(url).toBe(`${p.controlUrl}/device`)
    expect(complete).toBe(`${p.controlUrl}/device?user_code=${code}`)

    const context = await browser.newContext()
    const page = await context.newPage()
    await page.goto(complete!)
    await signIn(page, dave)
    await expect.poll(() => new URL(page.url()).pathname).toBe('/device')
    await expect.poll(() => page.getByLabel('Code').inputValue()).toBe(code)
    // Before approving, the page says when, from where and by what the code was asked for (RFC 8628 §5.4).
    const details = (await page.textContent('main'))!.replace(/\s+/g, ' ')
    expect(details).toMatch(/Asked for: (less than a minute|1 minute) ago \(\d{4}-\d\d-\d\d \d\d:\d\d UTC\)/)
    expect(details).toContain('From address: 127.0.0.1 — the address you are using now')
    expect(details).toContain('Program: the Postern CLI (postern auth login)')
    expect(details).toContain('Only continue if you started this sign-in yourself, on a device you own.')
    await page.getByRole('button', { name: 'Approve' }).click()
    await expect.poll(() => page.textContent('h1')).toBe('Device approved')
    await context.close()

    const done = await login.done
    expect(done.code, done.stderr).toBe(0)
    expect(done.stderr).toContain(`You are now logged in as [${dave}].`)
    const printed = await p.cli(['auth', 'print-identity-token'], { configDir })
    expect(claimsOf(printed.stdout.trim()).email).toBe(dave)
    const list = await p.cli(['auth', 'list'], { configDir })
    expect(list.stdout).toMatch(new RegExp(`^\\*\\s+${dave.replace('.', '\\.')}$`, 'm'))
    expect(list.stdout).toMatch(new RegExp(`^\\s+${carol.replace('.', '\\.')}$`, 'm'))
    const asCarol = await p.cli(['auth', 'print-identity-token', carol], { configDir })
    expect(claimsOf(asCarol.stdout.trim()).email).toBe(carol)
    for (const file of ['credentials.json', 'config.json']) {
      expect(statSync(join(configDir, file)).mode & 0o777).toBe(0o600)
    }

    // auth revoke ends the sign-in at the server, not just here.
    const carols = storedSignIn(configDir, carol)
    const revoked = await p.cli(['auth', 'revoke', carol], { configDir })
    expect(revoked.code, revoked.stderr).toBe(0)
    const reuse = await token(p.controlUrl, { grant_type: 'refresh_token', refresh_token: carols.refreshToken!, client_id: 'postern-cli' })
    expect(reuse.body).toEqual({ error: 'invalid_grant', error_description: 'The refresh token has been revoked.' })
    expect((await p.cli(['auth', 'list'], { configDir })).stdout).not.toContain(carol)
  })

  it('a typed code is shown with where and when it was asked for before it can be approved', async () => {
    const res = await fetch(`${p.controlUrl}/oauth2/device/code`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'client_id=postern-cli' })
    const d = (await res.json()) as Record<string, string>
    const context = await browser.newContext()
    const page = await context.newPage()
    await page.goto(`${p.controlUrl}/device`)
    await signIn(page, dave)
    await expect.poll(() => new URL(page.url()).pathname).toBe('/device')
    await page.getByLabel('Code').fill(d.user_code!.toLowerCase())
    await page.getByRole('button', { name: 'Continue' }).click()
    await expect.poll(() => page.getByRole('button', { name: 'Approve' }).count()).toBe(1)
    const details = (await page.textContent('main'))!.replace(/\s+/g, ' ')
    expect(details).toMatch(/Asked for: (less than a minute|1 minute) ago/)
    expect(details).toContain('From address: 127.0.0.1')
    expect(await page.content()).not.toContain(d.device_code!)
    await page.getByRole('button', { name: 'Approve' }).click()
    await expect.poll(() => page.textContent('h1')).toBe('Device approved')
    await context.close()
    const redeemed = await token(p.controlUrl, { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: d.device_code!, client_id: 'postern-cli' })
    expect(redeemed.status, JSON.stringify(redeemed.body)).toBe(200)
    expect(claimsOf(redeemed.body.id_token!)).toMatchObject({ email: dave })
  })

  it('falls back to the device flow when the browser cannot be opened', async () => {
    const elsewhere = mkdtempSync(join(tmpdir(), 'postern-login-'))
    expect((await p.cli(['config', 'set', 'server', p.controlUrl], { configDir: elsewhere })).code).toBe(0)
    const login = startLogin([], { configDir: elsewhere, env: { BROWSER: '/bin/false' } })
    try {
      const prompt = await login.prompt
      expect(prompt.url).toMatch(/\/device$/)
      expect(login.stderr()).toContain('Could not open a browser on this machine; signing in with a code instead.')
    } finally {
      login.kill()
    }
  })
})

describe('postern auth login ACCOUNT, as gcloud takes it', () => {
  it('offers the account on the sign-in page, even over another signed-in account; refuses credentials of another; re-uses a held sign-in without a browser', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'postern-login-'))
    expect((await p.cli(['config', 'set', 'server', p.controlUrl], { configDir: dir })).code).toBe(0)
    const context = await browser.newContext()
    const page = await context.newPage()

    const first = recordingBrowser()
    const asCarol = startLogin([carol], { configDir: dir, env: { BROWSER: first.command } })
    await expect.poll(first.url, { timeout: 20_000 }).toMatch(/login_hint=carol%40example\.com/)
    await page.goto(first.url()!)
    await expect.poll(() => new URL(page.url()).pathname).toBe('/signin')
    expect(await page.getByLabel('Email').inputValue()).toBe(carol)
    await page.getByLabel('Password').fill(password)
    await page.getByRole('button', { name: 'Sign in' }).click()
    const carolDone = await asCarol.done
    expect(carolDone.code, carolDone.stderr).toBe(0)
    expect(carolDone.stderr).toContain(`You are now logged in as [${carol}].`)

    // The browser is signed in as carol: asked for dave, it shows the form (with dave in it) rather
    // than handing over carol's code; the person signs in as carol anyway, and the CLI keeps nothing.
    const second = recordingBrowser()
    const asDave = startLogin([dave], { configDir: dir, env: { BROWSER: second.command } })
    await expect.poll(second.url, { timeout: 20_000 }).toContain('login_hint=')
    await page.goto(second.url()!)
    await expect.poll(() => new URL(page.url()).pathname).toBe('/signin')
    expect(await page.getByLabel('Email').inputValue()).toBe(dave)
    expect(await page.textContent('body')).toContain(`You are signed in as ${carol}`)
    await signIn(page, carol)
    const daveDone = await asDave.done
    expect(daveDone.code).toBe(1)
    expect(daveDone.stderr).toContain(`You attempted to log in as account [${dave}] but the received credentials were for account [${carol}]`)
    const listed = await p.cli(['auth', 'list'], { configDir: dir })
    expect(listed.stdout).not.toContain(dave)
    await context.close()

    // A held, working sign-in of the account: made active again, no browser opened.
    expect((await p.cli(['config', 'set', 'account', dave], { configDir: dir })).code).toBe(0)
    const third = recordingBrowser()
    const again = await startLogin([carol], { configDir: dir, env: { BROWSER: third.command } }).done
    expect(again.code, again.stderr).toBe(0)
    expect(again.stderr).toContain(`Re-using locally stored credentials for [${carol}]`)
    expect(third.url()).toBeUndefined()
    expect((await p.cli(['config', 'get', 'account'], { configDir: dir })).stdout.trim()).toBe(carol)

    const both = await p.cli(['auth', 'login', carol, '--login-config', '/nonexistent'], { configDir: dir })
    expect(both.code).toBe(2)
  })
})

describe('postern auth login ACCOUNT --no-browser (the device flow asked for an account)', () => {
  it('names the account on /device; another account gets no Approve and its posted approval is refused; after "Sign in as" the account approves and the CLI is signed in', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'postern-login-'))
    expect((await p.cli(['config', 'set', 'server', p.controlUrl], { configDir: dir })).code).toBe(0)
    const login = startLogin([dave, '--no-browser'], { configDir: dir })
    const { code, complete } = await login.prompt
    const context = await browser.newContext()
    try {
      const page = await context.newPage()
      await page.goto(complete!)
      await signIn(page, carol)
      await expect.poll(() => new URL(page.url()).pathname).toBe('/device')
      const mismatch = (await page.textContent('main'))!.replace(/\s+/g, ' ')
      expect(mismatch).toContain(`This sign-in asked for: ${dave}`)
      expect(mismatch).toContain(`This code can only be approved by ${dave}, and you are signed in as ${carol}.`)
      expect(await page.getByRole('button', { name: 'Approve' }).count()).toBe(0)
      expect(await page.getByRole('button', { name: 'Deny' }).count()).toBe(1)

      // The approval posted by hand (the Deny form's post made into the approve the page left out): refused.
      await page.route('**/device', (route) => {
        const form = new URLSearchParams(route.request().postData() ?? '')
        form.set('action', 'approve')
        form.set('shown_code', code)
        return route.continue({ postData: form.toString() })
      })
      const [posted] = await Promise.all([page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/device'), page.getByRole('button', { name: 'Deny' }).click()])
      await page.unroute('**/device')
      expect(posted.status()).toBe(403)
      await expect.poll(() => page.textContent('main')).toContain('This code asked for another account: sign in as that account to approve it.')
      expect(await page.getByRole('button', { name: 'Approve' }).count()).toBe(0)

      // Sign in as the account asked for: signed out, the form filled in with it, then back to this code.
      await page.getByRole('button', { name: `Sign in as ${dave}` }).click()
      await expect.poll(() => new URL(page.url()).pathname).toBe('/signin')
      expect(await page.getByLabel('Email').inputValue()).toBe(dave)
      expect(await page.textContent('body')).not.toContain(`You are signed in as ${carol}`)
      await signIn(page, dave)
      await expect.poll(() => new URL(page.url()).pathname).toBe('/device')
      await expect.poll(() => page.getByLabel('Code').inputValue()).toBe(code)
      expect((await page.textContent('main'))!.replace(/\s+/g, ' ')).toContain(`This sign-in asked for: ${dave}`)
      await page.getByRole('button', { name: 'Approve' }).click()
      await expect.poll(() => page.textContent('h1')).toBe('Device approved')
    } finally {
      await context.close()
    }
    const done = await login.done
    expect(done.code, done.stderr).toBe(0)
    expect(done.stderr).toContain(`You are now logged in as [${dave}].`)
  })
})

describe('a page on another port of the same host (the same site to a browser)', () => {
  it('cannot have a code sent to its own listener for the signed-in person: the browser is asked first, and Cancel sends none', async () => {
    const attacker = await startAttackerPage((authorize, request) => p.controlUrl + authorize(request.searchParams.has('prompt') ? { prompt: request.searchParams.get('prompt')! } : {}))
    const callbacks = attacker.callbacks
    const context = await browser.newContext()
    try {
      const page = await context.newPage()
      await page.goto(`${p.controlUrl}/signin`)
      await signIn(page, dave)
      await expect.poll(() => new URL(page.url()).pathname).not.toBe('/signin')
      const app = `${attacker.url}/`

      // prompt=none cannot ask: the client is told consent is required, and gets no code.
      await page.goto(`${app}?prompt=none`)
      await expect.poll(() => callbacks.length, { timeout: 10_000 }).toBe(1)
      expect(callbacks[0]!.get('error')).toBe('consent_required')
      expect(callbacks[0]!.get('code')).toBeNull()

      await page.goto(app)
      await expect.poll(() => page.textContent('body')).toContain('Sign in a program on this machine?')
      expect(await page.textContent('body')).toContain(dave)
      expect(callbacks).toHaveLength(1)
      await page.getByRole('button', { name: 'Cancel' }).click()
      await expect.poll(() => callbacks.length, { timeout: 10_000 }).toBe(2)
      expect(callbacks[1]!.get('error')).toBe('access_denied')
      expect(callbacks[1]!.get('code')).toBeNull()

      // Asked and answered by the person: the code goes where the request said.
      await page.goto(app)
      await page.getByRole('button', { name: `Continue as ${dave}` }).click()
      await expect.poll(() => callbacks.length, { timeout: 10_000 }).toBe(3)
      expect(callbacks[2]!.get('code')).toMatch(/\S{20,}/)
      expect(callbacks[2]!.get('state')).toBe('state-123') // the request's own (authorizeParams)
    } finally {
      await context.close()
      attacker.close()
    }
  })
})

describe('a page that sends the browser to sign in first', () => {
  it('cannot have the code sent, unasked, once the person has signed in: no session, prompt=login, or a link to /signin itself', async () => {
    // No session; a session and prompt=login; a link to the sign-in page with the request as its way back.
    const attacker = await startAttackerPage((authorize, request) =>
      request.pathname === '/signin-link' ? `${p.controlUrl}/signin?return_to=${encodeURIComponent(authorize())}` : p.controlUrl + authorize(request.searchParams.has('prompt') ? { prompt: request.searchParams.get('prompt')! } : {}),
    )
    const callbacks = attacker.callbacks
    try {
      const app = attacker.url
      for (const [n, start] of [`${app}/`, `${app}/?prompt=login`, `${app}/signin-link`].entries()) {
        const context = await browser.newContext()
        try {
          const page = await context.newPage()
          if (n === 1) {
            await page.goto(`${p.controlUrl}/signin`)
            await signIn(page, dave)
            await expect.poll(() => new URL(page.url()).pathname).not.toBe('/signin')
          }
          await page.goto(start)
          await expect.poll(() => new URL(page.url()).pathname, { timeout: 10_000 }).toBe('/signin')
          await signIn(page, dave)
          await expect.poll(() => page.textContent('body'), { timeout: 10_000 }).toContain('Sign in a program on this machine?')
          expect(await page.textContent('body'), start).toContain(`${attacker.url}/cb`)
          expect(callbacks, start).toHaveLength(n)
          await page.getByRole('button', { name: `Continue as ${dave}` }).click()
          await expect.poll(() => callbacks.length, { timeout: 10_000 }).toBe(n + 1)
          expect(callbacks[n]!.get('code'), start).toMatch(/\S{20,}/)
        } finally {
          await context.close()
        }
      }
    } finally {
      attacker.close()
    }
  })
})

describe('the OpenID Provider’s public documents, read by a page of another origin', () => {
  it('discovery, the JWKS and the certs are readable by fetch() from any origin (as Google serves its own)', async () => {
    const site = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>app</title>'))
    await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve))
    const page = await (await browser.newContext()).newPage()
    try {
      await page.goto(`http://127.0.0.1:${(site.address() as AddressInfo).port}/`)
      const read = (url: string) => page.evaluate(async (u) => fetch(u).then(async (r) => ({ status: r.status, keys: Object.keys((await r.json()) as object) }), (e: Error) => ({ status: 0, keys: [e.message] })), url)
      expect(await read(`${p.controlUrl}/.well-known/openid-configuration`)).toMatchObject({ status: 200, keys: expect.arrayContaining(['issuer', 'jwks_uri']) })
      expect(await read(`${p.controlUrl}/oauth2/jwks`)).toMatchObject({ status: 200, keys: ['keys'] })
      expect((await read(`${p.controlUrl}/oauth2/v1/certs`)).status).toBe(200)
    } finally {
      await page.context().close()
      site.close()
    }
  })
})
