import { generateKeyPairSync } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ExternalAccountClient } from 'google-auth-library'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { gatewayStatus } from '../support/gateway-status.js'
import { startExternalIdp, type ExternalIdp } from '../support/external-idp.js'
import { startPostern, type PosternProcess } from '../support/server.js'
import { startUpstream } from '../support/upstream.js'
import { claimsOf, token } from '../support/web-sign-in.js'

/**
 * Token exchange for workforce federation (RFC 8693) against a real external OpenID
 * Provider: one good exchange, then one bad subject token or request per row, each refused with
 * its RFC 8693 / RFC 6749 error and nothing issued.
 */
const GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange'
const ID_TOKEN = 'urn:ietf:params:oauth:token-type:id_token'
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token'
const POOL = 'partners'
const AUDIENCE = `//iam.postern/workforcePools/${POOL}/providers/acme`


let p: PosternProcess
let idp: ExternalIdp

const exchange = (subjectToken: string, over: Record<string, string> = {}) =>
  token(p.controlUrl, { grant_type: GRANT, subject_token: subjectToken, subject_token_type: ID_TOKEN, audience: AUDIENCE, ...over })

beforeAll(async () => {
  ;[p, idp] = await Promise.all([startPostern(), startExternalIdp()])
  const owner = (args: string[]) => p.cli(args)
  expect((await owner(['iam', 'workforce-pools', 'create', POOL, '--session-duration', '2h', '--display-name', 'Partners'])).code).toBe(0)
  const created = await owner([
    'iam', 'workforce-pools', 'providers', 'create-oidc', 'acme', '--workforce-pool', POOL, '--issuer-uri', idp.issuer, '--client-id', idp.clientId,
    '--attribute-mapping', 'postern.subject=assertion.sub,postern.groups=has(assertion.groups) ? assertion.groups : [],postern.display_name=assertion.name,attribute.dept=assertion.dept',
    '--attribute-condition', "assertion.email.endsWith('@example.com')", '--format', 'json',
  ])
  expect(created.code, created.stderr).toBe(0)
  expect(JSON.parse(created.stdout)).toMatchObject({ name: `workforcePools/${POOL}/providers/acme`, audience: AUDIENCE, oidc: { issuerUri: idp.issuer, clientId: idp.clientId } })
  // A second provider whose mapping takes the subject from a claim some tokens lack.
  expect((await owner(['iam', 'workforce-pools', 'providers', 'create-oidc', 'by-email', '--workforce-pool', POOL, '--issuer-uri', idp.issuer, '--client-id', idp.clientId, '--attribute-mapping', 'postern.subject=assertion.email'])).code).toBe(0)
})
afterAll(async () => {
  await p?.stop()
  await idp?.close()
})

describe('token exchange', () => {
  it('takes a Google external_account credential file as google-auth-library sends it: the token file as written, its newline too', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'postern-ext-'))
    const tokenFile = join(dir, 'token.jwt')
    // As `echo "$TOKEN" > file` writes it.
    writeFileSync(tokenFile, `${await idp.mint({ sub: 'ann', email: 'ann@example.com' })}\n`)
    const client = ExternalAccountClient.fromJSON({
      type: 'external_account',
      audience: AUDIENCE,
      subject_token_type: ID_TOKEN,
      token_url: `${p.controlUrl}/oauth2/token`,
      credential_source: { file: tokenFile },
    })
    const { token: accessToken } = await client!.getAccessToken()
    expect(claimsOf(accessToken!)).toMatchObject({ iss: p.controlUrl, federation: { pool: POOL, subject: 'ann' } })
  })

  it('issues a refresh token only to a client that asks for none (the CLI) or for offline_access, not to one naming other scopes (Google’s STS clients)', async () => {
    const subject = () => idp.mint({ sub: 'ann', email: 'ann@example.com' })
    const google = await exchange(await subject(), { scope: 'https://www.googleapis.com/auth/cloud-platform' })
    expect(google.status, JSON.stringify(google.body)).toBe(200)
    expect(google.body.access_token).toBeTruthy()
    expect(google.body.refresh_token).toBeUndefined()
    expect(google.body.refresh_token_expires_in).toBeUndefined()
    // Its access token still names a recorded sign-in (sid), which revoking the token ends at once.
    const userinfo = async () => (await fetch(`${p.controlUrl}/oauth2/userinfo`, { headers: { authorization: `Bearer ${google.body.access_token}` } })).status
    expect(claimsOf(google.body.access_token!).sid).toEqual(expect.any(String))
    expect(await userinfo()).toBe(200)
    const revoke = await fetch(`${p.controlUrl}/oauth2/revoke`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token: google.body.access_token! }) })
    expect(revoke.status).toBe(200)
    expect(await userinfo()).toBe(401)
    const offline = await exchange(await subject(), { scope: 'openid offline_access' })
    expect(offline.body.refresh_token).toBeTruthy()
    expect((await exchange(await subject())).body.refresh_token).toBeTruthy()
  })

  it('exchanges a valid ID token for Postern tokens of principal://…, with groups, attributes and a refresh token capped at the session', async () => {
    const started = Math.floor(Date.now() / 1000)
    const r = await exchange(await idp.mint({ sub: 'ann', email: 'ann@example.com', name: 'Ann', groups: ['eng', 'Domain Users'], dept: 'rnd' }))
    expect(r.status, JSON.stringify(r.body)).toBe(200)
    expect(r.body).toMatchObject({ token_type: 'Bearer', issued_token_type: ACCESS_TOKEN, expires_in: 3600 })
    expect(r.body.refresh_token).toBeTruthy()
    expect(Number(r.body.refresh_token_expires_in)).toBeGreaterThan(7190)
    expect(Number(r.body.refresh_token_expires_in)).toBeLessThanOrEqual(7200)
    // The access token (for the API) and the ID token (for services) both name the principal.
    expect(claimsOf(r.body.access_token!)).toMatchObject({ iss: p.controlUrl, aud: p.controlUrl, client_id: 'postern-cli', federation: { pool: POOL, subject: 'ann' } })
    const claims = claimsOf(r.body.id_token!)
    expect(claims).toMatchObject({
      iss: p.controlUrl,
      aud: 'postern-cli',
      // 'Domain Users' cannot be named by a member string, so it is not carried.
      federation: { pool: POOL, provider: 'acme', subject: 'ann', groups: ['eng'], attributes: { dept: 'rnd' }, display_name: 'Ann', email: 'ann@example.com' },
    })
    expect(claims.email).toBeUndefined()
    expect(claims.exp as number).toBeLessThanOrEqual(started + 3600 + 5)
    // The subject's uid is stable across exchanges.
    const again = await exchange(await idp.mint({ sub: 'ann', email: 'ann@example.com', groups: [] }))
    expect(claimsOf(again.body.access_token!).sub).toBe(claims.sub)
    expect((claimsOf(again.body.id_token!).federation as { groups: string[] }).groups).toEqual([])

    // The control API knows the caller by its principal, and the refresh token renews it.
    const whoami = await p.api('GET', '/v1/users', undefined, r.body.access_token)
    expect(whoami.status).toBe(403)
    expect(JSON.stringify(whoami.body)).toContain('principal://iam.postern/workforcePools/partners/subject/ann')
    const refreshed = await token(p.controlUrl, { grant_type: 'refresh_token', refresh_token: r.body.refresh_token!, client_id: 'postern-cli', audience: 'http://svc.example' })
    expect(refreshed.status, JSON.stringify(refreshed.body)).toBe(200)
    expect(claimsOf(refreshed.body.id_token!)).toMatchObject({ aud: 'http://svc.example', federation: { subject: 'ann' } })
  })

  const rogue = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey
  const now = () => Math.floor(Date.now() / 1000)
  const refusals: [string, () => Promise<{ status: number; body: Record<string, string> }>, string, RegExp][] = [
    ['a token from an unknown issuer', async () => exchange(await idp.mint({ sub: 'ann', email: 'ann@example.com' }, { iss: 'https://evil.example', key: rogue })), 'invalid_request', /not issued by/],
    ['a token for another audience', async () => exchange(await idp.mint({ sub: 'ann', email: 'ann@example.com', aud: 'some-other-client' })), 'invalid_request', /audience/],
    ['an expired token', async () => exchange(await idp.mint({ sub: 'ann', email: 'ann@example.com', iat: now() - 7200, exp: now() - 3600 })), 'invalid_request', /expired/],
    ['a token signed by a key not in the provider’s JWKS', async () => exchange(await idp.mint({ sub: 'ann', email: 'ann@example.com' }, { key: rogue, kid: 'rogue-key' })), 'invalid_request', /not in the provider/],
    ['a token signed by another key under the provider’s kid', async () => exchange(await idp.mint({ sub: 'ann', email: 'ann@example.com' }, { key: rogue })), 'invalid_request', /signature/],
    ['an unsigned token (alg none)', async () => exchange(`${Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url')}.${Buffer.from(JSON.stringify({ iss: idp.issuer, sub: 'ann', aud: idp.clientId, iat: now(), exp: now() + 60 })).toString('base64url')}.`), 'invalid_request', /compact JWS|algorithm/],
    ['a logout token (typ logout+jwt), however well signed', async () => exchange(await idp.mint({ sub: 'ann', email: 'ann@example.com', events: { 'http://schemas.openid.net/event/backchannel-logout': {} } }, { typ: 'logout+jwt' })), 'invalid_request', /type.*logout\+jwt.*not an ID token/],
    ['a security event token (typ secevent+jwt)', async () => exchange(await idp.mint({ sub: 'ann', email: 'ann@example.com' }, { typ: 'secevent+jwt' })), 'invalid_request', /not an ID token/],
    ['a JWT access token (typ at+jwt)', async () => exchange(await idp.mint({ sub: 'ann', email: 'ann@example.com' }, { typ: 'at+jwt' })), 'invalid_request', /not an ID token/],
    ['a token failing the attribute condition', async () => exchange(await idp.mint({ sub: 'mallory', email: 'mallory@evil.example' })), 'invalid_request', /attribute condition/],
    ['a mapping that yields no subject', async () => exchange(await idp.mint({ sub: 'ann' }), { audience: `//iam.postern/workforcePools/${POOL}/providers/by-email` }), 'invalid_request', /yields no subject/],
    ['an unknown provider', async () => exchange(await idp.mint({ sub: 'ann', email: 'ann@example.com' }), { audience: `//iam.postern/workforcePools/${POOL}/providers/nope` }), 'invalid_target', /does not exist/],
    ['an audience that names no provider', async () => exchange(await idp.mint({ sub: 'ann', email: 'ann@example.com' }), { audience: 'postern-cli' }), 'invalid_target', /workforce pool provider/],
    ['a SAML assertion', async () => exchange('PHNhbWw+', { subject_token_type: 'urn:ietf:params:oauth:token-type:saml2' }), 'invalid_request', /subject_token_type/],
    ['no subject token', async () => exchange(''), 'invalid_request', /subject_token is required/],
    ['a request for an ID token as the issued token', async () => exchange(await idp.mint({ sub: 'ann', email: 'ann@example.com' }), { requested_token_type: ID_TOKEN }), 'invalid_request', /requested_token_type may only be/],
  ]
  for (const [what, send, error, description] of refusals) {
    it(`refuses ${what} with ${error}, issuing nothing`, async () => {
      const r = await send()
      expect(r.status).toBe(400)
      expect(Object.keys(r.body).sort()).toEqual(['error', 'error_description'])
      expect(r.body.error).toBe(error)
      expect(r.body.error_description).toMatch(description)
    })
  }

  it('audits sign-ins and the people the attribute condition turned away, not forged tokens', async () => {
    const audit = async (principal: string) =>
      (await p.api<{ entries?: { method: string; outcome: string; resource: string }[] }>('GET', `/v1/auditLogs?principal=${encodeURIComponent(principal)}`)).body.entries ?? []
    expect(await audit(`principal://iam.postern/workforcePools/${POOL}/subject/ann`)).toContainEqual(expect.objectContaining({ method: 'oauth.tokenExchange', outcome: 'OK', resource: `workforcePools/${POOL}/providers/acme` }))
    expect(await audit(`principal://iam.postern/workforcePools/${POOL}/subject/mallory`)).toContainEqual(expect.objectContaining({ method: 'oauth.tokenExchange', outcome: 'PERMISSION_DENIED' }))
  })

  it('principalSet bindings by attribute and by pool match at the control API and at the gateway', async () => {
    const exchanged = (await exchange(await idp.mint({ sub: 'ann', email: 'ann@example.com', groups: [], dept: 'rnd' }))).body
    const token = exchanged.access_token!
    const byDept = `principalSet://iam.postern/workforcePools/${POOL}/attribute.dept/rnd`
    expect((await p.api('GET', '/v2/projects/my-project/services', undefined, token)).status).toBe(403)
    const viewer = await p.cli(['projects', 'add-iam-policy-binding', 'my-project', `--member=${byDept}`, '--role=roles/run.viewer'])
    expect(viewer.code, viewer.stderr).toBe(0)
    expect((await p.api('GET', '/v2/projects/my-project/services', undefined, token)).status).toBe(200)

    const upstream = await startUpstream()
    try {
      const created = await p.cli(['services', 'create', 'partners-only', `--upstream=${upstream.url}`, '--format=json'])
      expect(created.code, created.stderr).toBe(0)
      const host = new URL(JSON.parse(created.stdout).uri).host
      const call = () => gatewayStatus(p.gatewayPort, host, exchanged.id_token!)
      expect(await call()).toBe(403)
      expect((await p.cli(['services', 'add-iam-policy-binding', 'partners-only', `--member=principalSet://iam.postern/workforcePools/${POOL}/*`, '--role=roles/run.invoker'])).code).toBe(0)
      await expect.poll(call, { timeout: 1_000, interval: 50 }).toBe(200)
      // Another pool's set names no one here (a pool must exist to be named in a binding).
      expect((await p.cli(['services', 'remove-iam-policy-binding', 'partners-only', `--member=principalSet://iam.postern/workforcePools/${POOL}/*`, '--role=roles/run.invoker'])).code).toBe(0)
      expect((await p.cli(['iam', 'workforce-pools', 'create', 'other-pool'])).code).toBe(0)
      expect((await p.cli(['services', 'add-iam-policy-binding', 'partners-only', '--member=principalSet://iam.postern/workforcePools/other-pool/*', '--role=roles/run.invoker'])).code).toBe(0)
      await expect.poll(call, { timeout: 1_000, interval: 50 }).toBe(403)
    } finally {
      await upstream.close()
    }
  })

  it('refuses an identity too large for a Postern token, naming what is too large; the largest it issues works at the gateway and the API', async () => {
    const groups = (n: number) => Array.from({ length: n }, (_, i) => `${String(i).padStart(3, '0')}-${'g'.repeat(116)}`)
    const huge = await exchange(await idp.mint({ sub: 'ann', email: 'ann@example.com', groups: groups(190) }))
    expect(huge.status).toBe(400)
    expect(huge.body.error).toBe('invalid_request')
    expect(huge.body.error_description).toMatch(/groups \(190 names, [\d,]+ bytes\) are too large/)
    expect(huge.body.refresh_token).toBeUndefined()

    // The most groups that still fit: one fewer makes it, one more does not.
    let fits = 0
    let largest: Record<string, string> | undefined
    for (let n = 40; n > 0 && !largest; n--) {
      const r = await exchange(await idp.mint({ sub: 'ann', email: 'ann@example.com', name: 'Ann Ö. Example', groups: groups(n), dept: 'rnd' }))
      if (r.status === 200) [fits, largest] = [n, r.body]
      else expect(r.body.error_description).toMatch(/too large/)
    }
    expect(fits).toBeGreaterThan(10)
    const upstream = await startUpstream()
    try {
      const created = await p.cli(['services', 'create', 'big-identities', `--upstream=${upstream.url}`, '--format=json'])
      expect(created.code, created.stderr).toBe(0)
      const uri = JSON.parse(created.stdout).uri as string
      expect((await p.cli(['services', 'add-iam-policy-binding', 'big-identities', `--member=principalSet://iam.postern/workforcePools/${POOL}/group/${groups(1)[0]}`, '--role=roles/run.invoker'])).code).toBe(0)
      // Its tokens, and those renewed for the service's URL (a longer audience), pass where Postern takes them:
      // ID tokens at the gateway, access tokens at the API (not cut off by a 431).
      const renewed = await token(p.controlUrl, { grant_type: 'refresh_token', refresh_token: largest!.refresh_token!, client_id: 'postern-cli', audience: uri })
      expect(renewed.status, JSON.stringify(renewed.body)).toBe(200)
      for (const issued of [largest!.access_token!, largest!.id_token!, renewed.body.id_token!, renewed.body.access_token!]) {
        expect(issued.length).toBeLessThan(8 * 1024) // one header line of nginx's default buffers, with room for the rest
      }
      for (const idToken of [largest!.id_token!, renewed.body.id_token!]) {
        await expect.poll(() => gatewayStatus(p.gatewayPort, new URL(uri).host, idToken), { timeout: 1_000, interval: 50 }).toBe(200)
      }
      expect([200, 403]).toContain((await p.api('GET', '/v1/projects', undefined, largest!.access_token!)).status)
    } finally {
      await upstream.close()
    }
  })

  it('refuses every exchange for a disabled pool or provider with invalid_target, and works again once enabled', async () => {
    const good = await idp.mint({ sub: 'ann', email: 'ann@example.com' })
    expect((await p.cli(['iam', 'workforce-pools', 'update', POOL, '--disabled'])).code).toBe(0)
    const refused = await exchange(good)
    expect(refused.body).toEqual({ error: 'invalid_target', error_description: `The workforce pool ${POOL} is disabled.` })
    expect((await p.cli(['iam', 'workforce-pools', 'update', POOL, '--no-disabled'])).code).toBe(0)
    expect((await p.cli(['iam', 'workforce-pools', 'providers', 'update', 'acme', '--workforce-pool', POOL, '--disabled'])).code).toBe(0)
    expect((await exchange(good)).body).toEqual({ error: 'invalid_target', error_description: `The provider workforcePools/${POOL}/providers/acme is disabled.` })
    expect((await p.cli(['iam', 'workforce-pools', 'providers', 'update', 'acme', '--workforce-pool', POOL, '--no-disabled'])).code).toBe(0)
    expect((await exchange(good)).status).toBe(200)
  })

  it('verifies with an inline JWKS when the provider has one, fetching nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'postern-jwks-'))
    const jwks = join(dir, 'jwks.json')
    writeFileSync(jwks, JSON.stringify({ keys: [idp.key.publicJwk] }))
    const r = await p.cli(['iam', 'workforce-pools', 'providers', 'create-oidc', 'inline', '--workforce-pool', POOL, '--issuer-uri', 'https://offline-idp.example', '--client-id', 'c1', '--jwk-json-path', jwks, '--attribute-mapping', 'postern.subject=assertion.sub'])
    expect(r.code, r.stderr).toBe(0)
    const ok = await exchange(await idp.mint({ sub: 'bob', aud: 'c1' }, { iss: 'https://offline-idp.example' }), { audience: `//iam.postern/workforcePools/${POOL}/providers/inline` })
    expect(ok.status, JSON.stringify(ok.body)).toBe(200)
    expect(claimsOf(ok.body.id_token!).federation).toMatchObject({ subject: 'bob', provider: 'inline' })
  })

  it('the API refuses bad pools and providers with INVALID_ARGUMENT naming the field', async () => {
    const bad = async (args: string[], message: RegExp) => {
      const r = await p.cli(args)
      expect(r.code).toBe(1)
      expect(r.stderr).toMatch(message)
    }
    await bad(['iam', 'workforce-pools', 'create', 'Bad_Pool'], /Invalid workforce pool id/)
    await bad(['iam', 'workforce-pools', 'create', 'short-session', '--session-duration', '10m'], /between 900s/)
    await bad(['iam', 'workforce-pools', 'create', 'long-session', '--session-duration', '13h'], /between 900s/)
    const base = ['iam', 'workforce-pools', 'providers', 'create-oidc', 'second', '--workforce-pool', POOL, '--client-id', 'c']
    await bad([...base, '--issuer-uri', 'http://idp.example.com', '--attribute-mapping', 'postern.subject=assertion.sub'], /https/)
    await bad([...base, '--issuer-uri', idp.issuer, '--attribute-mapping', 'postern.groups=assertion.groups'], /must map postern.subject/)
    await bad([...base, '--issuer-uri', idp.issuer, '--attribute-mapping', 'postern.subject=assertion.sub +'], /does not parse/)
    await bad([...base, '--issuer-uri', idp.issuer, '--attribute-mapping', 'google.subject=assertion.sub'], /not a target/)
    await bad([...base, '--issuer-uri', idp.issuer, '--attribute-mapping', 'postern.subject=assertion.sub', '--attribute-condition', "'x'"], /must be a bool/)
  })
})
