import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { chromium, type Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startLogin } from '../support/device-login.js'
import { startExternalIdp, type ExternalIdp } from '../support/external-idp.js'
import { gatewayStatus } from '../support/gateway-status.js'
import { freePort } from '../support/ports.js'
import { recordingBrowser } from '../support/recording-browser.js'
import { nginxHolds } from '../support/nginx-holds.js'
import { DATA_PLANES, startPostern, type PosternProcess } from '../support/server.js'
import { posternOnPath, sh, shBackground } from '../support/shell.js'
import { storedSignIn } from '../support/stored-credentials.js'
import { startUpstream } from '../support/upstream.js'
import { signIn, watchedPage } from './console-harness.js'
import { claimsOf } from '../support/web-sign-in.js'
import { startAttackerPage } from '../support/attacker-page.js'

/**
 * Workforce identity federation end to end, typed as people would: an admin makes a
 * pool and an OIDC provider for the company's identity provider (a real one: oidc-provider); a
 * person there signs in with `postern auth login --login-config` in a browser (headless
 * Chromium), is refused a private service by name, is let in through the group binding, with curl
 * and through the developer proxy; leaving the group at the identity provider counts at the next
 * sign-in; disabling the pool stops their tokens within a second; the session ends when the
 * pool says, and the CLI says how to sign in again. Also: a machine with a token file, and the
 * console's "Sign in with …". On both data planes.
 */
const POOL = 'acme-staff'
const PRINCIPAL = `principal://iam.postern/workforcePools/${POOL}/subject/ann`
const ENG = `principalSet://iam.postern/workforcePools/${POOL}/group/eng`

// Set by each data plane's beforeAll: the planes' suites run one after the other.
let p: PosternProcess
let idp: ExternalIdp
let browser: Browser
let upstream: Awaited<ReturnType<typeof startUpstream>>
let bin: string
let url: string
let loginConfig: string
let annDir: string
const owner = (line: string) => sh(line, { configDir: p.configDir, binDir: bin })
const ann = (line: string) => sh(line, { configDir: annDir, binDir: bin })
const curl = async (configDir = annDir) => {
  const r = await sh(`curl -s -w '\\n%{http_code}' -H "Authorization: Bearer $(postern auth print-identity-token)" ${url}/who`, { configDir, binDir: bin })
  const lines = r.stdout.split('\n')
  return { code: lines.at(-1), body: lines.slice(0, -1).join('\n'), stderr: r.stderr }
}


/** `postern auth login --login-config` with Chromium as the person's browser. */
async function federatedLogin(configDir: string, login: string) {
  const recorder = recordingBrowser()
  const running = startLogin(['--login-config', loginConfig], { configDir, env: { BROWSER: recorder.command } })
  await expect.poll(recorder.url, { timeout: 20_000 }).toMatch(new RegExp(`^${idp.issuer}/`))
  const authorize = new URL(recorder.url()!)
  expect(authorize.searchParams.get('client_id')).toBe(idp.clientId)
  expect(authorize.searchParams.get('code_challenge_method')).toBe('S256')
  expect(authorize.searchParams.get('redirect_uri')).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/)
  const context = await browser.newContext()
  const page = await context.newPage()
  await page.goto(authorize.href)
  await idp.signIn(page, login)
  await expect.poll(() => page.textContent('body'), { timeout: 20_000 }).toContain('You are signed in at')
  await context.close()
  return running.done
}


/** Brings the end of a subject's sign-ins forward to now, in the store, rather than waiting for the pool's session to run out. */
function endSessionsOf(uid: string): void {
  const db = new Database(join(p.dataDir, 'postern.db'))
  try {
    db.prepare('UPDATE refresh_tokens SET expire_time = ? WHERE subject_uid = ?').run(Date.now() - 1, uid)
  } finally {
    db.close()
  }
}

async function within(ms: number, check: () => Promise<boolean>): Promise<number> {
  const start = Date.now()
  for (;;) {
    if (await check()) return Date.now() - start
    if (Date.now() - start > ms) throw new Error(`not within ${ms} ms`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

describe.each(DATA_PLANES)('workforce federation (%s data plane)', (dataPlane) => {
  beforeAll(async () => {
    annDir = mkdtempSync(join(tmpdir(), 'postern-ann-'))
    const controlPort = await freePort()
    upstream = await startUpstream()
    // Tokens live two minutes here, so every print-identity-token renews with the refresh token.
    ;[p, idp] = await Promise.all([
      startPostern({ controlPort, dataPlane, args: ['--id-token-ttl', '120'] }),
      startExternalIdp({ consoleCallback: `http://127.0.0.1:${controlPort}/signin/federated/callback` }),
    ])
    idp.people.set('ann', { email: 'ann@example.com', name: 'Ann Example', groups: ['eng', 'staff'] })
    idp.people.set('ci-bot', { email: 'ci@example.com', name: 'CI', groups: ['eng'] })
    bin = posternOnPath()
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    })
    const created = await owner(`postern services create hello --upstream=${upstream.url} --format=json`)
    expect(created.code, created.stderr).toBe(0)
    url = JSON.parse(created.stdout).uri
    if (dataPlane === 'nginx') await nginxHolds(p, 'hello')
  })
  afterAll(async () => {
    await browser?.close()
    await p?.stop()
    await idp?.close()
    await upstream?.close()
  })

  describe('workforce identity federation', () => {
    it('an admin creates a pool, an OIDC provider and a login configuration', async () => {
      const pool = await owner(`postern iam workforce-pools create ${POOL} --display-name='Acme staff' --session-duration=1h`)
      expect(pool.code, pool.stderr).toBe(0)
      expect(pool.stderr).toContain(`Created workforce pool [${POOL}].`)
      expect(pool.stdout).toContain('sessionDuration: 3600s')
      const provider = await owner(
        `postern iam workforce-pools providers create-oidc acme-idp --workforce-pool=${POOL} --issuer-uri=${idp.issuer} --client-id=${idp.clientId} ` +
          `--attribute-mapping='postern.subject=assertion.sub,postern.groups=has(assertion.groups) ? assertion.groups : [],postern.display_name=assertion.name,attribute.email=assertion.email' ` +
          `--attribute-condition="assertion.email.endsWith('@example.com')" --console-sign-in --display-name='Acme SSO'`,
      )
      expect(provider.code, provider.stderr).toBe(0)
      expect(provider.stdout).toContain(`audience: //iam.postern/workforcePools/${POOL}/providers/acme-idp`)
      const list = await owner(`postern iam workforce-pools providers list --workforce-pool=${POOL}`)
      expect(list.stdout).toMatch(new RegExp(`workforcePools/${POOL}/providers/acme-idp\\s+${idp.issuer.replace(/\./g, '\\.')}\\s+${idp.clientId}\\s+true\\s+false`))

      loginConfig = join(annDir, 'login.json')
      const config = await owner(`postern iam workforce-pools create-login-config workforcePools/${POOL}/providers/acme-idp --output-file=${loginConfig}`)
      expect(config.code, config.stderr).toBe(0)
      expect(JSON.parse(readFileSync(loginConfig, 'utf8'))).toEqual({
        type: 'postern_workforce_login_config',
        server: p.controlUrl,
        audience: `//iam.postern/workforcePools/${POOL}/providers/acme-idp`,
        issuer_uri: idp.issuer,
        client_id: idp.clientId,
        scopes: ['openid', 'email', 'profile'],
        token_url: `${p.controlUrl}/oauth2/token`,
      })
    })

    it('a person signs in at the identity provider through postern auth login --login-config, and is refused the private service by name', async () => {
      const done = await federatedLogin(annDir, 'ann')
      expect(done.code, done.stderr).toBe(0)
      expect(done.stderr).toContain(`You are now logged in as [${PRINCIPAL}].`)
      const stored = storedSignIn(annDir, PRINCIPAL)
      expect(stored).toMatchObject({ type: 'federated', server: p.controlUrl, federation: { loginConfig } })
      expect((await ann('postern config set project my-project')).code).toBe(0)

      const printed = await ann('postern auth print-identity-token')
      expect(printed.code, printed.stderr).toBe(0)
      const claims = claimsOf(printed.stdout.trim())
      expect(claims).toMatchObject({ aud: 'postern-cli', federation: { pool: POOL, subject: 'ann', groups: ['eng', 'staff'], email: 'ann@example.com' } })
      // The identity provider's email is carried as its word, not as an email Postern vouches for.
      expect(claims.email).toBeUndefined()

      const refused = await curl()
      expect(refused.code).toBe('403')
      const message = JSON.parse(refused.body).error.message as string
      expect(message).toContain(`denied for ${PRINCIPAL} on projects/my-project/services/hello`)
      expect(message).toContain(`--member='${PRINCIPAL}' --role='roles/run.invoker'`)
      const why = await owner(`postern services why hello --member='${PRINCIPAL}'`)
      expect(why.stdout).toContain(`NOT GRANTED: ${PRINCIPAL} lacks run.routes.invoke`)
      expect(why.stdout).toContain('groups [eng, staff]')
    })

    it('is let in through principalSet://…/group/eng within a second, with curl and through the developer proxy', async () => {
      const grant = await owner(`postern services add-iam-policy-binding hello --member='${ENG}' --role='roles/run.invoker'`)
      expect(grant.code, grant.stderr).toBe(0)
      const token = (await ann('postern auth print-identity-token')).stdout.trim()
      expect(await within(1_000, async () => (await gatewayStatus(p.gatewayPort, new URL(url).host, token, '/who')) === 200)).toBeLessThanOrEqual(1_000)
      const through = await curl()
      expect(through.code, through.body).toBe('200')
      expect(JSON.parse(through.body).headers['x-postern-authenticated-principal']).toBe(PRINCIPAL)
      // Empty from the Node gateway; nginx sends no header with an empty value.
      expect(JSON.parse(through.body).headers['x-postern-authenticated-email']).toBe(dataPlane === 'node' ? '' : undefined)
      const why = await owner(`postern services why hello --member='${PRINCIPAL}'`)
      expect(why.stdout).toContain(`GRANTED: ${PRINCIPAL} holds run.routes.invoke`)
      expect(why.stdout).toContain(`to ${ENG}`)

      const bound = await ann(`postern auth print-identity-token --audiences=${url}`)
      expect(claimsOf(bound.stdout.trim())).toMatchObject({ aud: url, federation: { subject: 'ann' } })

      const port = await freePort()
      const { child: proxy, banner } = await shBackground(`postern services proxy hello --port ${port}`, { configDir: annDir, binDir: bin })
      try {
        expect(banner).toBe(`Proxying to ${url} at http://127.0.0.1:${port}\n`)
        const r = await sh(`curl -s -w '\\n%{http_code}' http://127.0.0.1:${port}/via/proxy`, { configDir: annDir, binDir: bin })
        const [body, code] = r.stdout.split('\n')
        expect(code).toBe('200')
        const seen = JSON.parse(body!) as { headers: Record<string, string> }
        expect(seen.headers['x-postern-authenticated-principal']).toBe(PRINCIPAL)
        expect(claimsOf(seen.headers['x-serverless-authorization']!).aud).toBe(url)
      } finally {
        proxy.kill('SIGTERM')
      }
    })

    it('disabling the pool stops their Postern tokens at the gateway within a second; the CLI then asks to sign in again', async () => {
      const token = (await ann('postern auth print-identity-token')).stdout.trim()
      const status = () => gatewayStatus(p.gatewayPort, new URL(url).host, token, '/who')
      expect(await status()).toBe(200)
      const disabled = await owner(`postern iam workforce-pools update ${POOL} --disabled`)
      expect(disabled.code, disabled.stderr).toBe(0)
      expect(await within(1_000, async () => (await status()) === 401)).toBeLessThanOrEqual(1_000)
      const refresh = await ann('postern auth print-identity-token')
      expect(refresh.code).toBe(1)
      expect(refresh.stderr).toContain(`The session of ${PRINCIPAL} has ended`)
      expect(refresh.stderr).toContain(`Sign in again: postern auth login --login-config ${loginConfig}`)
      expect((await owner(`postern iam workforce-pools update ${POOL} --no-disabled`)).code).toBe(0)
    })

    it('leaving the eng group at the identity provider takes effect at the next sign-in', async () => {
      const back = await federatedLogin(annDir, 'ann')
      expect(back.code, back.stderr).toBe(0)
      expect((await curl()).code).toBe('200')
      idp.people.get('ann')!.groups = ['staff']
      // Tokens already issued keep the groups they were issued with until they expire; the next sign-in (exchange) maps the new ones.
      const again = await federatedLogin(annDir, 'ann')
      expect(again.code, again.stderr).toBe(0)
      const refused = await curl()
      expect(refused.code).toBe('403')
      idp.people.get('ann')!.groups = ['eng', 'staff']
    })

    it('renews tokens until the pool’s session ends, then says the session ended and how to sign in again', async () => {
      const again = await federatedLogin(annDir, 'ann')
      expect(again.code, again.stderr).toBe(0)
      const refreshToken = () => storedSignIn(annDir, PRINCIPAL).refreshToken!
      const before = refreshToken()
      const second = await ann('postern auth print-identity-token')
      expect(second.code, second.stderr).toBe(0)
      expect(refreshToken()).not.toBe(before) // renewed with the refresh token, which rotated (two-minute tokens are never reused)
      endSessionsOf(claimsOf(second.stdout.trim()).sub as string)
      const ended = await ann('postern auth print-identity-token')
      expect(ended.code).toBe(1)
      expect(ended.stderr).toContain(`The session of ${PRINCIPAL} has ended`)
      expect(ended.stderr).toContain(`Sign in again: postern auth login --login-config ${loginConfig}`)
    })

    it('a machine that holds an OIDC token signs in with --subject-token-file and calls the service', async () => {
      const machine = mkdtempSync(join(tmpdir(), 'postern-ci-'))
      const tokenFile = join(machine, 'oidc-token')
      writeFileSync(tokenFile, (await idp.mint({ sub: 'ci-bot', email: 'ci@example.com', groups: ['eng'] })) + '\n')
      const login = await sh(`postern auth login --login-config=${loginConfig} --subject-token-file=${tokenFile} && postern config set project my-project`, { configDir: machine, binDir: bin })
      expect(login.code, login.stderr).toBe(0)
      expect(login.stderr).toContain(`You are now logged in as [principal://iam.postern/workforcePools/${POOL}/subject/ci-bot].`)
      const r = await curl(machine)
      expect(r.code, r.body).toBe('200')
      const bad = await sh(`postern auth login --subject-token-file=${tokenFile}`, { configDir: machine, binDir: bin })
      expect(bad.code).toBe(2)

      // When the session ends, the machine exchanges the file's current token (its CI system renews it).
      endSessionsOf(claimsOf((await sh('postern auth print-identity-token', { configDir: machine, binDir: bin })).stdout.trim()).sub as string)
      writeFileSync(tokenFile, (await idp.mint({ sub: 'ci-bot', email: 'ci@example.com', groups: ['eng'] })) + '\n')
      const renewed = await sh('postern auth print-identity-token', { configDir: machine, binDir: bin })
      expect(renewed.code, renewed.stderr).toBe(0)
      expect((await curl(machine)).code).toBe('200')
      endSessionsOf(claimsOf(renewed.stdout.trim()).sub as string)
      writeFileSync(tokenFile, (await idp.mint({ sub: 'ci-bot', email: 'ci@example.com', iat: Math.floor(Date.now() / 1000) - 7200, exp: Math.floor(Date.now() / 1000) - 3600 })) + '\n')
      const stale = await sh('postern auth print-identity-token', { configDir: machine, binDir: bin })
      expect(stale.code).toBe(1)
      expect(stale.stderr).toContain(`and the token in ${tokenFile} was refused: The subject token has expired`)
      expect(stale.stderr).toContain(`Sign in again: postern auth login --login-config ${loginConfig} --subject-token-file ${tokenFile}`)
    })

    it('the console’s sign-in page offers the provider; signing in there gives a console session for the federated principal', async () => {
      const context = await browser.newContext()
      const page = await context.newPage()
      const signin = await page.goto(`${p.controlUrl}/console`)
      expect(new URL(page.url()).pathname).toBe('/signin')
      expect(signin!.headers()['content-security-policy']).toContain("default-src 'none'")
      expect(signin!.headers()['content-security-policy']).toContain("form-action 'self' http://127.0.0.1:* http://localhost:*")
      await expect.poll(() => page.getByLabel('Email').count()).toBe(1)
      await page.getByRole('link', { name: 'Sign in with Acme SSO' }).click()
      await expect.poll(() => page.url(), { timeout: 20_000 }).toContain(idp.issuer)
      await idp.signIn(page, 'ann')
      await expect.poll(() => new URL(page.url()).pathname, { timeout: 20_000 }).toMatch(/^\/console/)
      const session = await page.evaluate(async () => (await fetch('/v1/session')).json())
      expect(session).toMatchObject({ email: 'ann@example.com' })
      // The session acts as the federated principal: reading the project's services is not granted to it.
      const services = await page.evaluate(async () => (await fetch('/v2/projects/my-project/services')).json())
      expect(JSON.stringify(services)).toContain(PRINCIPAL)

      // Plain `postern auth login` in this browser signs the CLI in as the same federated principal.
      const cliDir = mkdtempSync(join(tmpdir(), 'postern-fed-cli-'))
      expect((await sh(`postern config set server ${p.controlUrl}`, { configDir: cliDir, binDir: bin })).code).toBe(0)
      const recorder = recordingBrowser()
      const login = startLogin([], { configDir: cliDir, env: { BROWSER: recorder.command } })
      await expect.poll(recorder.url, { timeout: 20_000 }).toMatch(/\/oauth2\/authorize\?/)
      await page.goto(recorder.url()!)
      await expect.poll(() => page.textContent('body')).toContain('You are signed in to Postern')
      const done = await login.done
      expect(done.code, done.stderr).toBe(0)
      expect(done.stderr).toContain(`You are now logged in as [${PRINCIPAL}].`)
      const printed = await sh('postern auth print-identity-token', { configDir: cliDir, binDir: bin })
      expect(claimsOf(printed.stdout.trim())).toMatchObject({ federation: { subject: 'ann', pool: POOL } })
      await context.close()
    })

    // The control plane is the same on both planes: once is enough.
    it.runIf(dataPlane === 'node')('a page that starts a sign-in through the provider itself, with an authorization request as its way back, gets no code unasked', async () => {
      const attacker = await startAttackerPage((authorize) => `${p.controlUrl}/signin/federated?provider=${POOL}/acme-idp&return_to=${encodeURIComponent(authorize())}`)
      const callbacks = attacker.callbacks
      const context = await browser.newContext()
      try {
        const page = await context.newPage()
        await page.goto(`${attacker.url}/`)
        await expect.poll(() => page.url(), { timeout: 20_000 }).toContain(idp.issuer)
        await idp.signIn(page, 'ann')
        await expect.poll(() => page.textContent('body'), { timeout: 20_000 }).toContain('Sign in a program on this machine?')
        expect(callbacks).toHaveLength(0)
        await page.getByRole('button', { name: 'Cancel' }).click()
        await expect.poll(() => callbacks.length, { timeout: 10_000 }).toBe(1)
        expect(callbacks[0]!.get('code')).toBeNull()
      } finally {
        await context.close()
        attacker.close()
      }
    })

    it.runIf(dataPlane === 'node')('a sign-in flow someone else started, its cookie planted as a sibling host could, signs no one in (login CSRF by cookie tossing)', async () => {
      idp.people.set('mallory', { email: 'mallory@example.com', name: 'Mallory', groups: [] })
      // Mallory starts a console sign-in of her own, keeps its flow cookie, signs in at the
      // provider and keeps the callback URL without following it.
      const started = await fetch(`${p.controlUrl}/signin/federated?provider=${POOL}/acme-idp&return_to=%2Fconsole`, { redirect: 'manual' })
      expect(started.status).toBe(302)
      const flowCookie = started.headers.get('set-cookie')!.split(';')[0]!
      const flowValue = flowCookie.slice(flowCookie.indexOf('=') + 1)
      const mallory = await browser.newContext()
      const malloryPage = await mallory.newPage()
      // (Her browser holds no flow cookie, so its own visit to the callback fails before the code is redeemed.)
      const callback = malloryPage.waitForRequest((r) => r.url().startsWith(`${p.controlUrl}/signin/federated/callback?`), { timeout: 20_000 })
      await malloryPage.goto(started.headers.get('location')!)
      await idp.signIn(malloryPage, 'mallory')
      const callbackUrl = (await callback).url()
      await mallory.close()

      // The owner is signed in to the console. A page on a sibling host plants Mallory's flow
      // cookie (a sibling can set any name but a __Host- one) and sends the owner to her callback.
      const context = await browser.newContext()
      const { page } = await watchedPage(context)
      await signIn(page, p, 'owner@example.com', p.ownerPassword!)
      await context.addCookies([{ name: 'postern_federated', value: flowValue, domain: '127.0.0.1', path: '/signin/federated', httpOnly: false, secure: false, sameSite: 'Lax' }])
      await page.goto(callbackUrl)
      expect(await page.textContent('body')).toContain('does not belong to a sign-in started in this browser')
      await page.goto(`${p.controlUrl}/console`)
      expect(await page.evaluate(async () => (await fetch('/v1/session')).json())).toMatchObject({ email: 'owner@example.com' })
      await context.close()
    })

    it('a console session ends with the provider it was started through, and only with it', async () => {
      const context = await browser.newContext()
      const page = await context.newPage()
      await page.goto(`${p.controlUrl}/signin`)
      await page.getByRole('link', { name: 'Sign in with Acme SSO' }).click()
      await expect.poll(() => page.url(), { timeout: 20_000 }).toContain(idp.issuer)
      await idp.signIn(page, 'ann')
      await expect.poll(() => new URL(page.url()).pathname, { timeout: 20_000 }).toMatch(/^\/console/)
      const session = () => page.evaluate(async () => (await fetch('/v1/session')).status)
      expect(await session()).toBe(200)

      // Ann signs in again through a second provider of the pool, then that provider is disabled.
      const second = await owner(`postern iam workforce-pools providers create-oidc second-idp --workforce-pool=${POOL} --issuer-uri=${idp.issuer} --client-id=${idp.clientId} --attribute-mapping='postern.subject=assertion.sub'`)
      expect(second.code, second.stderr).toBe(0)
      const exchanged = await fetch(`${p.controlUrl}/oauth2/token`, {
        method: 'POST',
        body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: await idp.mint({ sub: 'ann', email: 'ann@example.com' }), subject_token_type: 'urn:ietf:params:oauth:token-type:id_token', audience: `//iam.postern/workforcePools/${POOL}/providers/second-idp` }),
      })
      expect(exchanged.status).toBe(200)
      expect((await owner(`postern iam workforce-pools providers update second-idp --workforce-pool=${POOL} --disabled`)).code).toBe(0)
      expect(await session()).toBe(200)

      // Disabling the provider the session came through ends it, for good.
      expect((await owner(`postern iam workforce-pools providers update acme-idp --workforce-pool=${POOL} --disabled`)).code).toBe(0)
      expect(await session()).toBe(401)
      expect((await owner(`postern iam workforce-pools providers update acme-idp --workforce-pool=${POOL} --no-disabled`)).code).toBe(0)
      expect(await session()).toBe(401)
      expect((await owner(`postern iam workforce-pools providers delete second-idp --workforce-pool=${POOL}`)).code).toBe(0)
      await context.close()
    })

    it('opens the private service in a browser through “Sign in with Acme SSO”; its session lasts no longer than the pool’s, and disabling the pool stops it within a second', async () => {
      const context = await browser.newContext()
      const page = await context.newPage()
      await page.goto(`${url}/who?from=browser`)
      await expect.poll(() => new URL(page.url()).pathname).toBe('/signin')
      await page.getByRole('link', { name: 'Sign in with Acme SSO' }).click()
      await expect.poll(() => page.url(), { timeout: 20_000 }).toContain(idp.issuer)
      await idp.signIn(page, 'ann')
      await page.waitForURL(`${url}/who?from=browser`, { timeout: 20_000 })
      const seen = JSON.parse((await page.textContent('body')) ?? '{}') as { headers: Record<string, string> }
      expect(seen.headers['x-postern-authenticated-principal']).toBe(PRINCIPAL)
      // As for their tokens: the identity provider's email is not asserted as a Postern email.
      expect(seen.headers['x-postern-authenticated-email'] ?? '').toBe('')
      const cookie = (await context.cookies(url)).find((c) => c.name === '__Host-postern_service_session')!
      // The pool's session is an hour (a password sign-in's is twelve).
      expect(cookie.expires * 1000 - Date.now()).toBeLessThanOrEqual(3_600_000)
      expect(cookie.expires * 1000 - Date.now()).toBeGreaterThan(3_500_000)

      const disabled = await owner(`postern iam workforce-pools update ${POOL} --disabled`)
      try {
        expect(disabled.code, disabled.stderr).toBe(0)
        // Within a second, not at once: the nginx plane holds a verdict for up to a second.
        const start = Date.now()
        let path = ''
        do {
          await page.reload()
          path = new URL(page.url()).pathname
        } while (path !== '/signin' && Date.now() - start < 1_000)
        expect(path).toBe('/signin')
      } finally {
        expect((await owner(`postern iam workforce-pools update ${POOL} --no-disabled`)).code).toBe(0)
        await context.close()
      }
    })

    it('the owner manages pools in the console: sees the pool and its provider, creates a pool, disables and enables the provider', async () => {
      const context = await browser.newContext()
      const { page, dialogs, problems } = await watchedPage(context)
      await signIn(page, p, 'owner@example.com', p.ownerPassword!)
      await page.getByRole('link', { name: 'Workforce pools' }).click()
      const pool = page.getByRole('region', { name: `Pool ${POOL}` })
      await expect.poll(() => pool.getByRole('rowheader').first().textContent()).toBe('acme-idp (Acme SSO)')
      await expect.poll(() => pool.textContent()).toContain(idp.issuer)

      await page.getByRole('button', { name: 'Create pool' }).click()
      await page.getByLabel('Pool ID').fill('contractors')
      await page.getByLabel('Display name').fill('Contractors')
      await page.getByLabel('Session duration').selectOption('8')
      await page.getByRole('button', { name: 'Create', exact: true }).click()
      await expect.poll(() => page.getByRole('status').textContent()).toBe('Created pool contractors.')
      const created = await p.api<{ sessionDuration: string; displayName: string }>('GET', '/v1/workforcePools/contractors')
      expect(created.body).toMatchObject({ sessionDuration: '28800s', displayName: 'Contractors' })

      await pool.getByRole('button', { name: 'Disable', exact: true }).click()
      await expect.poll(() => page.getByRole('status').textContent()).toContain('Disabled provider acme-idp.')
      expect((await p.api<{ disabled: boolean }>('GET', `/v1/workforcePools/${POOL}/providers/acme-idp`)).body.disabled).toBe(true)
      await pool.getByRole('button', { name: 'Enable', exact: true }).click()
      await expect.poll(() => page.getByRole('status').textContent()).toContain('Enabled provider acme-idp.')
      expect(dialogs).toEqual([])
      expect(problems).toEqual([])
      await context.close()
    })
  })
})
