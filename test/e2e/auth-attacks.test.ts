import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startPostern, type PosternProcess } from '../support/server.js'
import { BROWSER_ACCEPT, REDIRECT_URI, WebAgent, authorizeParams, claimsOf, codeFlow, createUser, pkcePair, token } from '../support/web-sign-in.js'

/**
 * "Attacks fail with the right OAuth error and change nothing": each case against a real
 * server over real HTTP, checking the exact error and that no token or code came out of it.
 */
let p: PosternProcess
const password = 'correct horse battery staple'
const ann = 'ann@example.com'

beforeAll(async () => {
  p = await startPostern()
  await createUser(p.api, ann, password)
})
afterAll(() => p?.stop())

async function signedInAgent(email = ann): Promise<WebAgent> {
  const agent = new WebAgent(p.controlUrl)
  const res = await agent.signIn(email, password)
  expect(res.status).toBe(303)
  return agent
}

describe('authorization request', () => {
  it('without a session sends the browser to /signin, keeping the request to come back to', async () => {
    const agent = new WebAgent(p.controlUrl)
    const r = await agent.authorize(authorizeParams(pkcePair().challenge))
    expect(r.status).toBe(302)
    const to = new URL(r.location!, p.controlUrl)
    expect(to.pathname).toBe('/signin')
    expect(to.searchParams.get('return_to')).toMatch(/^\/oauth2\/authorize\?client_id=postern-cli&/)
    // The same request posted as a form (OIDC Core §3.1.2.1).
    const form = new URLSearchParams(authorizeParams(pkcePair().challenge) as Record<string, string>)
    const posted = await agent.fetch('/oauth2/authorize', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form })
    expect(posted.status).toBe(302)
    expect(new URL(posted.headers.get('location')!, p.controlUrl).searchParams.get('return_to')).toBe(`/oauth2/authorize?${form}`)
  })

  it('refuses a missing PKCE challenge or the plain method: invalid_request back to the client, with state, and no code', async () => {
    const agent = await signedInAgent()
    const { verifier, challenge } = pkcePair()
    for (const over of [{ code_challenge: undefined, code_challenge_method: undefined }, { code_challenge: verifier, code_challenge_method: 'plain' }, { code_challenge_method: undefined }]) {
      const r = await agent.authorize(authorizeParams(challenge, over))
      expect(r.status).toBe(302)
      const back = new URL(r.location!)
      expect(back.origin + back.pathname).toBe(REDIRECT_URI)
      expect(back.searchParams.get('error')).toBe('invalid_request')
      expect(back.searchParams.get('error_description')).toMatch(/PKCE with S256 is required/)
      expect(back.searchParams.get('state')).toBe('state-123')
      expect(back.searchParams.get('iss')).toBe(p.controlUrl)
      expect(back.searchParams.has('code')).toBe(false)
    }
  })

  it('never redirects to a redirect_uri that is not loopback: a 400 page instead', async () => {
    const agent = await signedInAgent()
    for (const uri of ['https://evil.example/cb', 'http://evil.example:8080/cb', 'http://127.0.0.1.evil.example/cb', 'http://127.0.0.1:1/cb#x']) {
      const r = await agent.authorize(authorizeParams(pkcePair().challenge, { redirect_uri: uri }))
      expect(r.status, uri).toBe(400)
      expect(r.location).toBeNull()
      expect(r.body).toContain('is not allowed')
    }
    const unknown = await agent.authorize(authorizeParams(pkcePair().challenge, { client_id: 'evil-app' }))
    expect(unknown.status).toBe(400)
    expect(unknown.location).toBeNull()
  })

  it("prompt=login and max_age send a signed-in browser to sign in again, and the code's auth_time is that sign-in; prompt=none then says login_required", async () => {
    const agent = await signedInAgent()
    const authTime = (tokens: Record<string, string>) => claimsOf(tokens.id_token!).auth_time as number
    const first = authTime((await codeFlow(agent, { email: ann, password })).tokens)
    await new Promise((r) => setTimeout(r, 1_100)) // auth_time counts seconds
    // A session young enough for max_age is taken as it is.
    expect(authTime((await codeFlow(agent, { email: ann, password, over: { max_age: '3600' } })).tokens)).toBe(first)
    for (const over of [{ prompt: 'login' }, { max_age: '0' }] as Record<string, string>[]) {
      const r = await agent.authorize(authorizeParams(pkcePair().challenge, over))
      const to = new URL(r.location!, p.controlUrl)
      expect(to.pathname, JSON.stringify(over)).toBe('/signin')
      // Back from signing in, the request asks for neither, or it would send the user round again.
      expect(to.searchParams.get('return_to')).not.toMatch(/prompt=|max_age=/)
      expect(authTime((await codeFlow(agent, { email: ann, password, over })).tokens)).toBeGreaterThan(first)
    }
    const none = await agent.authorize(authorizeParams(pkcePair().challenge, { prompt: 'none', max_age: '0' }))
    expect(new URL(none.location!).searchParams.get('error')).toBe('login_required')
    const both = await agent.authorize(authorizeParams(pkcePair().challenge, { prompt: 'none login' }))
    expect(new URL(both.location!).searchParams.get('error')).toBe('invalid_request')
  })

  it('with a session issues a code bound to the redirect URI, state and nonce', async () => {
    const { tokens } = await codeFlow(await signedInAgent(), { email: ann, password })
    const id = claimsOf(tokens.id_token!)
    expect(id).toMatchObject({ iss: p.controlUrl, aud: 'postern-cli', email: ann, nonce: 'nonce-456' })
    expect(typeof id.auth_time).toBe('number')
    expect(tokens.refresh_token).toBeTruthy()
    expect(tokens.token_type).toBe('Bearer')
  })
})

describe('authorization_code grant', () => {
  async function freshCode(agent: WebAgent) {
    const { verifier, challenge } = pkcePair()
    const r = await agent.authorize(authorizeParams(challenge))
    return { code: new URL(r.location!).searchParams.get('code')!, verifier }
  }

  it('refuses a redirect_uri differing from the authorized one, or a wrong verifier, and leaves the code to its rightful client', async () => {
    const agent = await signedInAgent()
    const { code, verifier } = await freshCode(agent)
    const base = { grant_type: 'authorization_code', code, client_id: 'postern-cli' }
    const wrongRedirect = await token(p.controlUrl, { ...base, redirect_uri: 'http://127.0.0.1:45679/callback', code_verifier: verifier })
    expect(wrongRedirect).toEqual({ status: 400, body: { error: 'invalid_grant', error_description: 'redirect_uri differs from the one the code was issued for.' } })
    const wrongVerifier = await token(p.controlUrl, { ...base, redirect_uri: REDIRECT_URI, code_verifier: pkcePair().verifier })
    expect(wrongVerifier.status).toBe(400)
    expect(wrongVerifier.body.error).toBe('invalid_grant')
    expect(wrongVerifier.body.id_token).toBeUndefined()
    const missing = await token(p.controlUrl, { ...base, redirect_uri: REDIRECT_URI })
    expect(missing.body).toMatchObject({ error: 'invalid_request' })
    const rightful = await token(p.controlUrl, { ...base, redirect_uri: REDIRECT_URI, code_verifier: verifier })
    expect(rightful.status).toBe(200)
    expect(claimsOf(rightful.body.id_token!).email).toBe(ann)
  })

  it('a code used twice fails the second time and revokes the refresh token the first use issued', async () => {
    const agent = await signedInAgent()
    const { code, verifier } = await freshCode(agent)
    const form = { grant_type: 'authorization_code', code, client_id: 'postern-cli', redirect_uri: REDIRECT_URI, code_verifier: verifier }
    const first = await token(p.controlUrl, form)
    expect(first.status).toBe(200)
    const userinfo = async () => (await fetch(`${p.controlUrl}/oauth2/userinfo`, { headers: { authorization: `Bearer ${first.body.access_token}` } })).status
    expect(await userinfo()).toBe(200)
    const second = await token(p.controlUrl, form)
    expect(second.status).toBe(400)
    expect(second.body).toEqual({ error: 'invalid_grant', error_description: 'The authorization code was already used: the sign-in it began is revoked (no token is issued from it again, and its access tokens stop working now).' })
    expect(await userinfo()).toBe(401)
    const refresh = await token(p.controlUrl, { grant_type: 'refresh_token', refresh_token: first.body.refresh_token!, client_id: 'postern-cli' })
    expect(refresh.status).toBe(400)
    expect(refresh.body).toEqual({ error: 'invalid_grant', error_description: 'The refresh token has been revoked.' })
  })

  it('a refresh token reused after rotation fails and revokes its whole family', async () => {
    const { tokens } = await codeFlow(await signedInAgent(), { email: ann, password })
    const rt = (refresh_token: string) => token(p.controlUrl, { grant_type: 'refresh_token', refresh_token, client_id: 'postern-cli' })
    const rotated = await rt(tokens.refresh_token!)
    expect(rotated.status).toBe(200)
    expect(rotated.body.refresh_token).not.toBe(tokens.refresh_token)
    const replay = await rt(tokens.refresh_token!)
    expect(replay.body).toEqual({ error: 'invalid_grant', error_description: 'This refresh token was already used, so it may have been copied: its sign-in is revoked (no token is issued from it again, and its access tokens stop working now). Sign in again.' })
    const successor = await rt(rotated.body.refresh_token!)
    expect(successor.status).toBe(400)
    expect(successor.body.error).toBe('invalid_grant')
    expect(successor.body.id_token).toBeUndefined()
  })
})

describe('refresh_token grant (RFC 6749 §6, §3.1)', () => {
  it('a scope beyond the one granted is invalid_scope, and the refresh token still works after; a narrower one is given', async () => {
    const { tokens } = await codeFlow(await signedInAgent(), { email: ann, password })
    const granted = tokens.scope!.split(' ')
    const wider = await token(p.controlUrl, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, scope: `${tokens.scope} admin` })
    expect(wider.status).toBe(400)
    expect(wider.body.error).toBe('invalid_scope')
    expect(wider.body.error_description).toContain("'admin'")
    const narrower = await token(p.controlUrl, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, scope: 'openid' })
    expect(narrower.status, JSON.stringify(narrower.body)).toBe(200)
    expect(narrower.body.scope).toBe('openid')
    expect(granted.length).toBeGreaterThan(1)
  })

  it('HTTP Basic credentials are never ignored: another client or a secret is a 401 invalid_client with a Basic challenge; postern-cli: names the client', async () => {
    const { tokens } = await codeFlow(await signedInAgent(), { email: ann, password })
    const send = (credentials: string) =>
      fetch(`${p.controlUrl}/oauth2/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(credentials).toString('base64')}` },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token! }),
      })
    const evil = await send('evil:secret')
    expect(evil.status).toBe(401)
    expect(evil.headers.get('www-authenticate')).toBe('Basic realm="postern"')
    expect(await evil.json()).toMatchObject({ error: 'invalid_client' })
    const cli = await send('postern-cli:')
    expect(cli.status).toBe(200)
    // The device authorization endpoint reads them alike (RFC 8628 §3.1), with no client_id in the form.
    const device = (credentials: string) =>
      fetch(`${p.controlUrl}/oauth2/device/code`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(credentials).toString('base64')}` }, body: 'scope=openid' })
    const started = await device('postern-cli:')
    expect(started.status).toBe(200)
    expect(await started.json()).toMatchObject({ device_code: expect.any(String), user_code: expect.any(String) })
    const refused = await device('postern-cli:s3cret')
    expect(refused.status).toBe(401)
    expect(refused.headers.get('www-authenticate')).toBe('Basic realm="postern"')
    expect(await refused.json()).toMatchObject({ error: 'invalid_client', error_description: expect.stringContaining('public client') })
    // In the body, as client_secret_post and private_key_jwt send them: refused alike, before the
    // grant is looked at; an empty client_secret (some libraries send one for a public client) is none.
    const inBody = (extra: Record<string, string>) => token(p.controlUrl, { grant_type: 'refresh_token', refresh_token: 'not-a-refresh-token', client_id: 'postern-cli', ...extra })
    expect((await inBody({ client_secret: 'wrong-secret' })).body).toMatchObject({ error: 'invalid_client', error_description: expect.stringContaining('public client') })
    expect((await inBody({ client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: 'a.b.c' })).body).toMatchObject({ error: 'invalid_client' })
    expect((await inBody({ client_secret: '' })).body).toMatchObject({ error: 'invalid_grant' })
    // Revocation authenticates the client alike (RFC 7009 §2.1).
    const revoke = (headers: Record<string, string>, body: Record<string, string>) =>
      fetch(`${p.controlUrl}/oauth2/revoke`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(body) })
    const basic = (credentials: string) => ({ authorization: `Basic ${Buffer.from(credentials).toString('base64')}` })
    for (const [headers, body] of [[basic('other:'), { token: 'x' }], [basic('postern-cli:secret'), { token: 'x' }], [{}, { token: 'x', client_secret: 's' }]] as const) {
      const r = await revoke(headers, body)
      expect(r.status).toBe(401)
      expect(await r.json()).toMatchObject({ error: 'invalid_client' })
    }
    expect((await revoke(basic('postern-cli:'), { token: 'x' })).status).toBe(200)
  })

  it('a parameter sent without a value is as if omitted: client_id= is the default client', async () => {
    const { tokens } = await codeFlow(await signedInAgent(), { email: ann, password })
    const r = await token(p.controlUrl, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, client_id: '', audience: '' })
    expect(r.status, JSON.stringify(r.body)).toBe(200)
    expect(claimsOf(r.body.id_token!).aud).toBe('postern-cli')
  })
})

describe('device authorization', () => {
  it('answers polling faster than the interval with slow_down, adding 5 s each time, and issues nothing', async () => {
    const res = await fetch(`${p.controlUrl}/oauth2/device/code`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'client_id=postern-cli' })
    const d = (await res.json()) as Record<string, string | number>
    expect(d).toMatchObject({ verification_uri: `${p.controlUrl}/device`, interval: 5, expires_in: 600 })
    expect(d.user_code).toMatch(/^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/)
    expect(d.verification_uri_complete).toBe(`${p.controlUrl}/device?user_code=${d.user_code}`)
    const poll = () => token(p.controlUrl, { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: String(d.device_code), client_id: 'postern-cli' })
    expect((await poll()).body.error).toBe('authorization_pending')
    const fast = await poll()
    expect(fast.status).toBe(400)
    expect(fast.body).toEqual({ error: 'slow_down', error_description: 'Polling too fast; wait at least 10 seconds between requests.' })
    expect((await poll()).body.error_description).toBe('Polling too fast; wait at least 15 seconds between requests.')
    expect((await token(p.controlUrl, { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: 'made-up', client_id: 'postern-cli' })).body.error).toBe('invalid_grant')
  })

  it('a denied code gets access_denied, once; the code cannot then be approved', async () => {
    const res = await fetch(`${p.controlUrl}/oauth2/device/code`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'client_id=postern-cli' })
    const d = (await res.json()) as Record<string, string>
    const agent = await signedInAgent()
    const csrf = /name="csrf_token" value="([^"]+)"/.exec(await (await agent.fetch(d.verification_uri_complete!)).text())![1]!
    const decide = (action: string) => agent.fetch('/device', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ user_code: d.user_code!.toLowerCase(), csrf_token: csrf, action }) })
    const denied = await decide('deny')
    expect(denied.status).toBe(200)
    expect(await denied.text()).toContain('<h1>Device denied</h1>')
    expect((await decide('approve')).status).toBe(400)
    const poll = () => token(p.controlUrl, { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: d.device_code!, client_id: 'postern-cli' })
    expect((await poll()).body).toEqual({ error: 'access_denied', error_description: 'The sign-in was denied.' })
    const again = await poll()
    expect(again.body.error).toMatch(/^(invalid_grant|slow_down)$/)
    expect(again.body.id_token).toBeUndefined()
  })

  it('a code is approved only from the page that showed where and when it was asked for', async () => {
    const ask = async () => (await (await fetch(`${p.controlUrl}/oauth2/device/code`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'client_id=postern-cli' })).json()) as Record<string, string>
    const [d, other] = [await ask(), await ask()]
    const agent = await signedInAgent()
    const csrf = /name="csrf_token" value="([^"]+)"/.exec(await (await agent.fetch('/device')).text())![1]!
    const post = (fields: Record<string, string>) => agent.fetch('/device', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ csrf_token: csrf, user_code: d.user_code!, action: 'approve', ...fields }) })
    const poll = () => token(p.controlUrl, { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: d.device_code!, client_id: 'postern-cli' })
    // Approve with no details shown, or with another code's: the details are shown, nothing approved.
    for (const shown of [{}, { shown_code: other.user_code! }] as Record<string, string>[]) {
      const res = await post(shown)
      expect(res.status).toBe(200)
      const html = await res.text()
      expect(html).toContain('From address: <strong>127.0.0.1</strong>')
      expect(html).toContain(`name="shown_code" value="${d.user_code}"`)
    }
    expect((await poll()).body.error).toBe('authorization_pending')
    const approved = await post({ shown_code: d.user_code!.toLowerCase() })
    expect(await approved.text()).toContain('<h1>Device approved</h1>')
  })

  it('the /device page needs a session and its CSRF token to approve', async () => {
    const anonymous = new WebAgent(p.controlUrl)
    const page = await anonymous.fetch('/device?user_code=BCDF-GHJK')
    expect(page.status).toBe(302)
    expect(page.headers.get('location')).toBe('/signin?return_to=%2Fdevice%3Fuser_code%3DBCDF-GHJK')
    const agent = await signedInAgent()
    const html = await (await agent.fetch('/device?user_code=BCDF-GHJK')).text()
    expect(html).toContain('<label for="user_code">Code</label>')
    expect(html).toContain('value="BCDF-GHJK"')
    const forged = await agent.fetch('/device', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'user_code=BCDF-GHJK&action=approve&csrf_token=guess' })
    expect(forged.status).toBe(403)
  })
})

describe('password sign-in', () => {
  it('gives the same answer for an unknown account and a wrong password', async () => {
    const agent = new WebAgent(p.controlUrl)
    const unknown = await agent.signIn('nobody@example.com', password)
    const wrong = await agent.signIn(ann, 'not the password')
    expect(unknown.status).toBe(401)
    expect(wrong.status).toBe(401)
    const a = (await unknown.text()).match(/role="alert">([^<]+)</)?.[1]
    const b = (await wrong.text()).match(/role="alert">([^<]+)</)?.[1]
    expect(a).toBe('Wrong email or password.')
    expect(b).toBe(a)
    expect(agent.cookie('__Host-postern_session')).toBeUndefined()
  })

  it('a refused sign-in answers a client that asks for JSON in the one error shape, same status; a browser gets the form again', async () => {
    const user = 'json-client@example.com'
    await createUser(p.api, user, password)
    /** Posts the form as a client of this Accept would: with the form's own token, or without it (a form that expired). */
    const post = async (accept: string, o: { password: string; formToken: boolean }) => {
      const agent = new WebAgent(p.controlUrl)
      const token = o.formToken ? /name="form_token" value="([^"]+)"/.exec(await (await agent.fetch('/signin')).text())![1]! : 'no-form-token'
      return agent.fetch('/signin', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept }, body: new URLSearchParams({ email: user, password: o.password, form_token: token }) })
    }
    const expired = 'The sign-in form expired or did not come from this site. Please try again.'
    const cases: [string, { password: string; formToken: boolean }, number, string, string][] = [
      ['an expired form', { password, formToken: false }, 400, 'INVALID_ARGUMENT', expired],
      ['a wrong password', { password: 'not the password', formToken: true }, 401, 'UNAUTHENTICATED', 'Wrong email or password.'],
    ]
    for (const [name, form, code, status, message] of cases) {
      // JSON by the control plane's one Accept rule: also when HTML is acceptable beside it, and in any case.
      for (const accept of ['application/json', 'application/json, text/html', 'Application/JSON']) {
        const res = await post(accept, form)
        expect(res.status, `${name}, ${accept}`).toBe(code)
        expect(res.headers.get('content-type'), `${name}, ${accept}`).toBe('application/json; charset=utf-8')
        expect(await res.json(), `${name}, ${accept}`).toEqual({ error: { code, status, message } })
      }
      const page = await post(BROWSER_ACCEPT, form)
      expect(page.status, name).toBe(code)
      expect(page.headers.get('content-type'), name).toBe('text/html; charset=utf-8')
      const html = await page.text()
      expect(html.match(/role="alert">([^<]+)</)?.[1], name).toBe(message)
      expect(html, name).toContain('<button type="submit">Sign in</button>')
    }
  })

  it('refuses a form posted from another site (login CSRF)', async () => {
    const res = await fetch(`${p.controlUrl}/signin`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' }, body: new URLSearchParams({ email: ann, password, form_token: 'x' }) })
    expect(res.status).toBe(400)
    expect(res.headers.getSetCookie().join()).not.toContain('postern_session')
  })

  it('never redirects off-site after signing in', async () => {
    for (const returnTo of ['https://evil.example/', '//evil.example/x', '/\\evil.example', '/.//evil.example', '/%2e%2e//evil.example']) {
      const res = await new WebAgent(p.controlUrl).signIn(ann, password, returnTo)
      expect(res.status).toBe(303)
      expect(res.headers.get('location')).toBe('/console')
    }
  })

  it('slows 50 wrong passwords in a row with 429 RESOURCE_EXHAUSTED, and lets the right one in once the wait is over', async () => {
    const victim = 'victim@example.com'
    await createUser(p.api, victim, password)
    const agent = new WebAgent(p.controlUrl)
    const statuses: number[] = []
    let retryAfter = 0
    for (let i = 0; i < 50; i++) {
      const res = await fetch(`${p.controlUrl}/signin`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', cookie: 'postern_signin=t' },
        body: new URLSearchParams({ email: victim, password: `guess-${i}`, form_token: 't' }),
      })
      statuses.push(res.status)
      if (res.status === 429) {
        const body = (await res.json()) as { error: { status: string; message: string } }
        expect(body.error.status).toBe('RESOURCE_EXHAUSTED')
        expect(body.error.message).toMatch(/^Too many failed sign-in attempts for this account from this address\. Try again in \d+ seconds?\.$/)
        retryAfter = Number(res.headers.get('retry-after'))
        expect(retryAfter).toBeGreaterThan(0)
      } else {
        await res.body?.cancel()
      }
    }
    // Five free guesses; then each further one waits twice as long, so few more are even tried.
    expect(statuses.slice(0, 5)).toEqual(Array(5).fill(401))
    expect(statuses.filter((s) => s === 401).length).toBeLessThan(12)
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(38)
    const waiting = await agent.signIn(victim, password)
    expect(waiting.status).toBe(429)
    expect(await waiting.text()).toContain('Too many failed sign-in attempts for this account from this address.')
    expect(agent.cookie('__Host-postern_session')).toBeUndefined()
    // The address is not locked by one account's guesses: ann still signs in from it.
    expect((await new WebAgent(p.controlUrl).signIn(ann, password)).status).toBe(303)
    // And the owner of the account gets in from here too, once the wait is over.
    await new Promise((r) => setTimeout(r, Number(waiting.headers.get('retry-after')) * 1000))
    expect((await agent.signIn(victim, password)).status).toBe(303)
  }, 60_000)
})

describe('session authentication for the API', () => {
  it('GET /v1/session answers the console; mutations need X-CSRF-Token; sign-out ends the session', async () => {
    const none = await fetch(`${p.controlUrl}/v1/session`)
    expect(none.status).toBe(401)
    const agent = await signedInAgent()
    const cookie = agent.cookie('__Host-postern_session')!
    expect(cookie.length).toBeGreaterThan(40)
    const session = (await (await agent.fetch('/v1/session')).json()) as { email: string; csrfToken: string }
    expect(session.email).toBe(ann)
    const roles = await agent.fetch('/v1/roles')
    expect(roles.status).toBe(200)
    const body = JSON.stringify({ accountId: 'from-console' })
    const noCsrf = await agent.fetch('/v1/projects/my-project/serviceAccounts', { method: 'POST', headers: { 'content-type': 'application/json' }, body })
    expect(noCsrf.status).toBe(403)
    expect(((await noCsrf.json()) as { error: { message: string } }).error.message).toMatch(/X-CSRF-Token/)
    const wrongCsrf = await agent.fetch('/v1/projects/my-project/serviceAccounts', { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': 'nope' }, body })
    expect(wrongCsrf.status).toBe(403)
    // With the token, the request goes through to IAM, which decides as for a Bearer token (ann has no role).
    const withCsrf = await agent.fetch('/v1/projects/my-project/serviceAccounts', { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': session.csrfToken }, body })
    expect(withCsrf.status).toBe(403)
    expect(((await withCsrf.json()) as { error: { message: string } }).error.message).toContain("Permission 'iam.serviceAccounts.create' denied")
    const out = await agent.fetch('/signout', { method: 'POST', headers: { 'x-csrf-token': session.csrfToken } })
    expect(out.status).toBe(200)
    const after = await fetch(`${p.controlUrl}/v1/roles`, { headers: { cookie: `__Host-postern_session=${cookie}` } })
    expect(after.status).toBe(401)
  })
})
