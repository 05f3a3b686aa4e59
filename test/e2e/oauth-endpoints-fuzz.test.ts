import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { seeded } from '../support/h2-fuzz.js'
import { startPostern, type PosternProcess } from '../support/server.js'
import { storedSignIn } from '../support/stored-credentials.js'

/** Fixed, so CI sends the same requests every time; others with POSTERN_FUZZ_SEED=n. */
const SEED = Number(process.env.POSTERN_FUZZ_SEED ?? 20261206)
const REQUESTS = Number(process.env.POSTERN_FUZZ_REQUESTS ?? 750)
const AT_ONCE = 20
/** The loopback redirect URIs the CLI's client may be sent back to; anything else off the control plane is an open redirect. */
const LOOPBACK_CALLBACK = /^http:\/\/(127\.0\.0\.1:9|localhost:1|\[::1\]:9)$/
/** What an error_description may hold (RFC 6749 §5.2): printable ASCII but `"` and `\`. */
const OAUTH_TEXT = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/

const ENDPOINTS = [
  ['POST', '/oauth2/token'],
  ['POST', '/oauth2/token'],
  ['POST', '/oauth2/token'],
  ['POST', '/oauth2/device/code'],
  ['POST', '/oauth2/revoke'],
  ['GET', '/oauth2/authorize'],
  ['POST', '/oauth2/authorize'],
  ['GET', '/signin'],
  ['POST', '/signin'],
  ['GET', '/device'],
  ['POST', '/device'],
  ['GET', '/oauth2/userinfo'],
  ['POST', '/oauth2/userinfo'],
  ['POST', '/signout'],
] as const
const NAMES = ['grant_type', 'client_id', 'code', 'code_verifier', 'redirect_uri', 'device_code', 'refresh_token', 'subject_token', 'subject_token_type', 'requested_token_type', 'audience', 'scope', 'assertion', 'token', 'token_type_hint', 'response_type', 'state', 'nonce', 'code_challenge', 'code_challenge_method', 'prompt', 'login_hint', 'email', 'password', 'form_token', 'return_to', 'user_code', 'response_mode', 'max_age', 'request', 'request_uri', 'client_secret', '__proto__', 'hasOwnProperty']
const GRANTS = ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code', 'urn:ietf:params:oauth:grant-type:jwt-bearer', 'urn:ietf:params:oauth:grant-type:token-exchange', 'password', 'client_credentials', '__proto__', 'constructor', '']
const TOKEN_TYPES = ['urn:ietf:params:oauth:token-type:jwt', 'urn:ietf:params:oauth:token-type:id_token', 'urn:ietf:params:oauth:token-type:access_token', 'urn:ietf:params:oauth:token-type:refresh_token', 'x']
/** Already percent-encoded: broken escapes, an encoded NUL, a lone surrogate's UTF-8, CRLF. */
const RAW = ['%', '%2', '%00', '%FF', '%ED%A0%80', '%0d%0aSet-Cookie:%20x=y']
const WEIRD = ['', ' ', 'a'.repeat(5000), '__proto__', 'constructor', 'toString', '{}', 'null', '-1', '1e999', '//evil.example', '/\\evil.example', 'https://evil.example/', 'javascript:alert(1)', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.', 'a.b.c', 'http://127.0.0.1:9/callback?x=1', 'http://localhost:1/cb', 'http://[::1]:9/cb']
/** Where a sign-in may send the browser next: the control plane's own paths only. */
const RETURN_TO = ['/', '/console', '/oauth2/authorize?client_id=postern-cli', '//evil.example', '/\\evil.example', '/%5Cevil.example', '%2F%2Fevil.example', 'https://evil.example/', 'javascript:alert(1)', '\t//evil.example', '/\t/evil.example', ' //evil.example', 'http://127.0.0.1:9/callback', '///evil.example', '/.//evil.example']
const CONTENT_TYPES = ['application/x-www-form-urlencoded', 'application/x-www-form-urlencoded; charset=utf-8', 'application/x-www-form-urlencoded; charset=latin1', 'application/json', 'text/plain', 'multipart/form-data; boundary=x']

/**
 * The OpenID Provider's endpoints and sign-in pages under an attacker's forms: random parameters
 * of the names they read (and some Object.prototype holds), repeated or not, with real values
 * (the owner's refresh and access tokens, a live device code) among broken ones, under any
 * content type, cookie and Authorization. None is a 5xx, none redirects anywhere but the control
 * plane or a loopback callback, every error_description is the ASCII OAuth allows, and the server
 * answers throughout.
 */
describe('the OAuth endpoints and sign-in pages, sent random forms', () => {
  let p: PosternProcess
  let real: string[]
  let accessToken: string
  let session: string

  /** A fresh sign-in form's cookie and token, as a browser holds them. */
  const signInForm = async () => {
    const page = await request(`${p.controlUrl}/signin`)
    const cookie = /postern_signin=[^;]+/.exec(String(page.headers['set-cookie']))![0]
    const token = /name="form_token" value="([^"]+)"/.exec(await page.body.text())![1]!
    return { cookie, token }
  }
  /** The owner's sign-in form, filled in, with `more` after it. */
  const signIn = async (more: string) => {
    const form = await signInForm()
    const body = `email=owner%40example.com&password=${encodeURIComponent(p.ownerPassword!)}&form_token=${form.token}&${more}`
    return request(`${p.controlUrl}/signin`, { method: 'POST', headers: { cookie: form.cookie, 'content-type': 'application/x-www-form-urlencoded' }, body })
  }

  beforeAll(async () => {
    p = await startPostern()
    const signedIn = await signIn('return_to=/')
    await signedIn.body.dump()
    session = /(?:__Host-)?postern_session=[^;]+/.exec(String(signedIn.headers['set-cookie']))![0]
    const owner = storedSignIn(p.configDir, 'owner@example.com') as { refreshToken: string }
    accessToken = await p.ownerToken()
    const device = (await (await fetch(`${p.controlUrl}/oauth2/device/code`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'client_id=postern-cli&scope=openid' })).json()) as { device_code: string; user_code: string }
    real = [owner.refreshToken, accessToken, device.device_code, device.user_code, 'postern-cli', 'openid email offline_access', 'http://127.0.0.1:9/callback', 'S256', 'plain', 'code', 'owner@example.com']
  })
  afterAll(() => p?.stop())

  it(`${REQUESTS} random forms: no 5xx, no redirect off the control plane, and the server stays up`, async () => {
    const rand = seeded(SEED)
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!
    const value = (name: string) => {
      const r = rand()
      if (name === 'grant_type' && r < 0.7) return encodeURIComponent(pick(GRANTS))
      if (name.endsWith('token_type') && r < 0.7) return encodeURIComponent(pick(TOKEN_TYPES))
      if (r < 0.45) return encodeURIComponent(pick(real))
      if (r < 0.55) return pick(RAW)
      return encodeURIComponent(pick(WEIRD))
    }
    const param = () => {
      const name = pick(NAMES)
      return `${name}=${value(name)}`
    }
    const form = () => Array.from({ length: 1 + Math.floor(rand() * 7) }, param).join('&')
    const statuses = new Map<number, number>()
    const wrong: string[] = []
    for (let sent = 0; sent < REQUESTS; sent += AT_ONCE) {
      await Promise.all(
        Array.from({ length: AT_ONCE }, async () => {
          const [method, path] = pick(ENDPOINTS)
          const body = method === 'GET' ? undefined : form()
          const headers: Record<string, string> = {}
          if (rand() < 0.8) headers['content-type'] = pick(CONTENT_TYPES)
          if (rand() < 0.3) headers.authorization = pick([`Bearer ${accessToken}`, `Basic ${Buffer.from('postern-cli:').toString('base64')}`, 'Basic %%%', 'Bearer', `Basic ${Buffer.from('a:b:c').toString('base64')}`])
          if (rand() < 0.4) headers.cookie = pick([session, session, 'postern_signin=x', 'postern_session=x', `__Host-postern_session=${'a'.repeat(100)}`, 'postern_signin=; postern_signin=y'])
          if (rand() < 0.3) headers.accept = pick(['text/html', 'application/json', '*/*'])
          const target = path + (method === 'GET' || rand() < 0.2 ? `?${form()}` : '')
          // Some sign-ins succeed, so that where they send the browser next is checked too.
          // (Everything random is drawn before the first await: the run does not depend on timing.)
          const signingIn = method === 'POST' && path === '/signin' && rand() < 0.5 ? `return_to=${encodeURIComponent(pick(RETURN_TO))}&${body}` : undefined
          const r = signingIn ? await signIn(signingIn) : await request(p.controlUrl + target, { method, headers, body })
          const text = await r.body.text()
          statuses.set(r.statusCode, (statuses.get(r.statusCode) ?? 0) + 1)
          const what = signingIn ? `the owner's sign-in with ${signingIn.slice(0, 300)} (seed ${SEED})` : `${method} ${target.slice(0, 300)} ${body?.slice(0, 300) ?? ''} ${JSON.stringify(headers).slice(0, 200)} (seed ${SEED})`
          if (r.statusCode >= 500) wrong.push(`${r.statusCode} to ${what}: ${text.slice(0, 300)}`)
          const description = /^\{/.test(text) ? (JSON.parse(text) as { error_description?: unknown }).error_description : undefined
          if (description !== undefined && !OAUTH_TEXT.test(String(description))) wrong.push(`error_description ${JSON.stringify(description)} to ${what}`)
          const location = r.headers.location
          if (typeof location === 'string') {
            const to = new URL(location, p.controlUrl)
            if (to.origin !== p.controlUrl && !LOOPBACK_CALLBACK.test(to.origin)) wrong.push(`a redirect to ${location.slice(0, 200)} from ${what}`)
            const redirected = to.searchParams.get('error_description')
            if (redirected !== null && !OAUTH_TEXT.test(redirected)) wrong.push(`error_description ${JSON.stringify(redirected)} in a redirect from ${what}`)
          }
        }),
      )
    }
    expect(wrong.slice(0, 5)).toEqual([])
    // Both refusals and successes were reached: the forms got past the parsers into the grants.
    const seen = JSON.stringify(Object.fromEntries(statuses))
    expect(statuses.get(400) ?? 0, seen).toBeGreaterThan(REQUESTS / 10)
    expect((statuses.get(200) ?? 0) + (statuses.get(302) ?? 0) + (statuses.get(303) ?? 0), seen).toBeGreaterThan(REQUESTS / 10)
    expect((await fetch(`${p.controlUrl}/healthz`)).status).toBe(200)
    expect(p.output()).not.toMatch(/uncaught|FATAL|TypeError|RangeError/i)
  }, 120_000)
})
