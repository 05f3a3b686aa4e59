import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startExternalIdp, type ExternalIdp } from '../support/external-idp.js'
import { startPostern, type PosternProcess } from '../support/server.js'
import { createUser, signInUser } from '../support/sign-in.js'
import { storedSignIn } from '../support/stored-credentials.js'
import { startUpstream } from '../support/upstream.js'
import { claimsOf, token } from '../support/web-sign-in.js'

/**
 * Tokens for the control API and tokens for services are not interchangeable: an access token
 * (typ at+jwt, aud the issuer) works on the API and gets 401 at the gateway; an ID token (typ
 * JWT) opens a service and gets 401 at the API, whatever its audience — for users, service
 * accounts and federated callers alike. The X-Postern-Jwt-Assertion an upstream receives is
 * neither, and works nowhere. So a token any upstream has seen cannot act on the API.
 */
const POOL = 'partners'
const ID_MESSAGE = 'This is an ID token for services; the API takes an access token: postern auth print-access-token'
const ACCESS_MESSAGE = 'This is an access token for the Postern API; services take an ID token: postern auth print-identity-token'

let p: PosternProcess
let idp: ExternalIdp
let upstream: Awaited<ReturnType<typeof startUpstream>>
let svcHost: string
let openHost: string
const callers: Record<'user' | 'service account' | 'federated', { access: string; id: string }> = {} as never

beforeAll(async () => {
  ;[p, idp, upstream] = await Promise.all([startPostern(), startExternalIdp(), startUpstream()])
  const ok = async (args: string[], configDir?: string) => {
    const r = await p.cli(args, { configDir })
    expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0)
    return r.stdout.trim()
  }
  svcHost = new URL(JSON.parse(await ok(['services', 'create', 'svc', `--upstream=${upstream.url}`, '--format=json'])).uri).host
  openHost = new URL(JSON.parse(await ok(['services', 'create', 'open', `--upstream=${upstream.url}`, '--no-invoker-iam-check', '--format=json'])).uri).host

  await createUser(p, 'ann@example.com', 'ann-password-123')
  const ann = await signInUser(p, 'ann@example.com', 'ann-password-123')
  callers.user = { access: ann.accessToken, id: ann.idToken }

  // A service account signed in from its key file: the CLI's own jwt-bearer exchange.
  const robot = 'robot-one@my-project.iam.postern.internal'
  await ok(['iam', 'service-accounts', 'create', 'robot-one'])
  const keyFile = join(mkdtempSync(join(tmpdir(), 'postern-key-')), 'key.json')
  await ok(['iam', 'service-accounts', 'keys', 'create', keyFile, '--iam-account', robot])
  const robotDir = mkdtempSync(join(tmpdir(), 'postern-robot-'))
  await ok(['auth', 'activate-service-account', '--key-file', keyFile], robotDir)
  callers['service account'] = { access: await ok(['auth', 'print-access-token'], robotDir), id: await ok(['auth', 'print-identity-token'], robotDir) }

  await ok(['iam', 'workforce-pools', 'create', POOL])
  await ok(['iam', 'workforce-pools', 'providers', 'create-oidc', 'acme', '--workforce-pool', POOL, '--issuer-uri', idp.issuer, '--client-id', idp.clientId, '--attribute-mapping', 'postern.subject=assertion.sub'])
  const exchanged = await token(p.controlUrl, {
    grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
    subject_token: await idp.mint({ sub: 'fred', email: 'fred@example.com' }),
    subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
    audience: `//iam.postern/workforcePools/${POOL}/providers/acme`,
  })
  expect(exchanged.status, JSON.stringify(exchanged.body)).toBe(200)
  callers.federated = { access: exchanged.body.access_token!, id: exchanged.body.id_token! }

  for (const member of ['user:ann@example.com', `serviceAccount:${robot}`, `principalSet://iam.postern/workforcePools/${POOL}/*`]) {
    await ok(['projects', 'add-iam-policy-binding', 'my-project', `--member=${member}`, '--role=roles/viewer'])
    await ok(['services', 'add-iam-policy-binding', 'svc', `--member=${member}`, '--role=roles/run.invoker'])
  }
})
afterAll(async () => {
  await Promise.all([p?.stop(), idp?.close(), upstream?.close()])
})

async function api(bearer: string, path = '/v2/projects/my-project/services'): Promise<{ status: number; text: string; challenge: string }> {
  const res = await request(p.controlUrl + path, { headers: { authorization: `Bearer ${bearer}` } })
  return { status: res.statusCode, text: await res.body.text(), challenge: String(res.headers['www-authenticate'] ?? '') }
}

async function gateway(bearer: string | undefined, host = svcHost): Promise<{ status: number; text: string }> {
  const res = await request(`http://127.0.0.1:${p.gatewayPort}/echo`, { headers: { host, ...(bearer && { authorization: `Bearer ${bearer}` }) } })
  return { status: res.statusCode, text: await res.body.text() }
}

describe('tokens for the API and tokens for services are not interchangeable', () => {
  for (const kind of ['user', 'service account', 'federated'] as const) {
    it(`${kind}: the access token works on the API and gets 401 at the gateway`, async () => {
      const { access } = callers[kind]
      expect(claimsOf(access)).toMatchObject({ iss: p.controlUrl, aud: p.controlUrl })
      expect(JSON.parse(Buffer.from(access.split('.')[0]!, 'base64url').toString())).toMatchObject({ typ: 'at+jwt' })
      expect((await api(access)).status).toBe(200)
      const refused = await gateway(access)
      expect(refused.status).toBe(401)
      expect(refused.text).toContain(ACCESS_MESSAGE)
    })

    it(`${kind}: the ID token opens the service and gets 401 at the API, saying which token to use`, async () => {
      const { id } = callers[kind]
      expect((await gateway(id)).status).toBe(200)
      const refused = await api(id)
      expect(refused.status).toBe(401)
      expect(JSON.parse(refused.text).error.message).toBe(`${ID_MESSAGE}.`)
      expect(refused.challenge).toContain('error="invalid_token"')
    })
  }

  it('an ID token whose audience is the control URL or the issuer is still an ID token: 401 at the API', async () => {
    const minted = await p.cli(['auth', 'print-identity-token', '--audiences', p.controlUrl])
    expect(minted.code, minted.stderr).toBe(0)
    expect(claimsOf(minted.stdout.trim()).aud).toBe(p.controlUrl)
    const refused = await api(minted.stdout.trim())
    expect(refused.status).toBe(401)
    expect(refused.text).toContain(ID_MESSAGE)
  })

  it('a mistyped --audiences is refused before the sign-in is used: the next token comes as ever', async () => {
    await createUser(p, 'typo@example.com', 'correct horse battery staple')
    const { configDir } = await signInUser(p, 'typo@example.com', 'correct horse battery staple')
    for (const typo of ['a b', 'https://a.example https://b.example']) {
      const refused = await p.cli(['auth', 'print-identity-token', `--audiences=${typo}`], { configDir })
      expect(refused.code).toBe(1)
      expect(refused.stderr).toContain('without spaces or control characters')
    }
    const next = await p.cli(['auth', 'print-identity-token', '--audiences=https://z.example'], { configDir })
    expect(next.code, next.stderr).toBe(0)
    expect(claimsOf(next.stdout.trim())).toMatchObject({ aud: 'https://z.example', email: 'typo@example.com' })
  })

  it('the X-Postern-Jwt-Assertion an upstream receives is not a bearer token at the gateway or the API', async () => {
    upstream.seen.length = 0
    expect((await gateway(callers.user.id)).status).toBe(200)
    const assertion = String(upstream.seen.at(-1)!.headers['x-postern-jwt-assertion'])
    expect(JSON.parse(Buffer.from(assertion.split('.')[0]!, 'base64url').toString())).toMatchObject({ typ: 'postern-assertion+jwt' })
    // Its audience is this very service, and it is signed by Postern; still refused.
    expect(claimsOf(assertion).aud).toBe(`http://${svcHost}`)
    const atGateway = await gateway(assertion)
    expect(atGateway.status).toBe(401)
    expect(atGateway.text).toContain('X-Postern-Jwt-Assertion')
    const atApi = await api(assertion)
    expect(atApi.status).toBe(401)
    expect(atApi.text).toContain('not a bearer token')
  })

  it('whatever a public service’s upstream receives from a caller does not work on the API', async () => {
    upstream.seen.length = 0
    const owner = await p.ownerIdToken()
    expect((await gateway(owner, openHost)).status).toBe(200)
    const seen = upstream.seen.at(-1)!.headers
    for (const header of ['authorization', 'x-postern-jwt-assertion']) {
      const value = seen[header]
      if (typeof value !== 'string') continue
      const replayed = await api(value.replace(/^Bearer\s+/i, ''), '/v1/users')
      expect(replayed.status, header).toBe(401)
    }
  })

  it('print-access-token --impersonate-service-account prints the account’s access token, for a holder of tokenCreator only', async () => {
    const robot = 'robot-one@my-project.iam.postern.internal'
    const annDir = (await signInUser(p, 'ann@example.com', 'ann-password-123')).configDir
    const refused = await p.cli(['auth', 'print-access-token', `--impersonate-service-account=${robot}`], { configDir: annDir })
    expect(refused.code).toBe(1)
    expect(refused.stderr).toContain('iam.serviceAccounts.getAccessToken')

    const grant = await p.cli(['iam', 'service-accounts', 'add-iam-policy-binding', robot, '--member=user:ann@example.com', '--role=roles/iam.serviceAccountTokenCreator'])
    expect(grant.code, grant.stderr).toBe(0)
    const printed = await p.cli(['auth', 'print-access-token', `--impersonate-service-account=${robot}`], { configDir: annDir })
    expect(printed.code, printed.stderr).toBe(0)
    const minted = printed.stdout.trim()
    expect(claimsOf(minted)).toMatchObject({ aud: p.controlUrl })
    const userinfo = await api(minted, '/oauth2/userinfo')
    expect(userinfo.status, userinfo.text).toBe(200)
    expect(JSON.parse(userinfo.text)).toMatchObject({ email: robot })
    expect((await api(minted)).status).toBe(200)
    expect((await gateway(minted)).status).toBe(401)
    // The account named beside the flag is the one that asks: one without credentials here is refused, not replaced by the active one.
    expect((await p.cli(['auth', 'print-access-token', 'ann@example.com', `--impersonate-service-account=${robot}`], { configDir: annDir })).code).toBe(0)
    for (const kind of ['print-access-token', 'print-identity-token']) {
      const stranger = await p.cli(['auth', kind, 'nobody@nowhere.example', `--impersonate-service-account=${robot}`], { configDir: annDir })
      expect(stranger, kind).toMatchObject({ code: 1, stdout: '', stderr: expect.stringContaining('No credentials for nobody@nowhere.example.') })
    }
  })

  it('auth revoke --all forgets every account even when their server cannot be reached, warning that the sign-in stays valid there', async () => {
    const configDir = (await signInUser(p, 'ann@example.com', 'ann-password-123')).configDir
    const file = join(configDir, 'credentials.json')
    // The previous version's shape (keyed by email), as signInUser writes it: read, and revoked, all the same.
    const credentials = JSON.parse(readFileSync(file, 'utf8')) as { accounts: Record<string, { server: string }> }
    // The Postern that issued them is gone (nothing listens on port 9 here).
    for (const a of Object.values(credentials.accounts)) a.server = 'http://127.0.0.1:9'
    writeFileSync(file, JSON.stringify(credentials), { mode: 0o600 })
    const revoked = await p.cli(['auth', 'revoke', '--all'], { configDir })
    expect(revoked.code, revoked.stderr).toBe(0)
    expect(revoked.stderr).toMatch(/WARNING: Cannot reach (the Postern server at )?http:\/\/127.0.0.1:9/)
    expect(revoked.stderr).toContain('The sign-in of ann@example.com was not revoked there and stays valid until it expires; the credentials are forgotten here anyway.')
    expect(revoked.stderr).toContain('Revoked credentials:\n - ann@example.com')
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ signIns: [] })
    expect((await p.cli(['auth', 'revoke', 'ann@example.com', '--all'], { configDir })).code).toBe(2)
  })

  it('the CLI keeps both tokens in its 0600 credentials, prints each, and reuses them until they near expiry', async () => {
    const first = await p.cli(['auth', 'print-access-token'])
    const again = await p.cli(['auth', 'print-access-token'])
    expect(first.code, first.stderr).toBe(0)
    expect(again.stdout).toBe(first.stdout)
    const id = (await p.cli(['auth', 'print-identity-token'])).stdout.trim()
    const file = join(p.configDir, 'credentials.json')
    expect(statSync(file).mode & 0o777).toBe(0o600)
    const stored = storedSignIn(p.configDir, 'owner@example.com')
    expect(stored).toMatchObject({ accessToken: first.stdout.trim(), idToken: id })
    expect(claimsOf(id)).toMatchObject({ aud: 'postern-cli', email: 'owner@example.com' })
    // Its lifetime counted from when it was received, by this machine's clock (one machine here: within a few seconds of exp).
    const exp = (claimsOf(first.stdout.trim()).exp as number) * 1000
    expect(Math.abs(stored.accessTokenExpiry! - exp)).toBeLessThan(5_000)
  })
})
