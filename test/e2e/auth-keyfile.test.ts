import { createSign, randomUUID } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SignJWT, createRemoteJWKSet, importPKCS8, jwtVerify } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { approveDevice, startLogin } from '../support/device-login.js'
import { startPostern, type PosternProcess } from '../support/server.js'
import { claimsOf, createUser, token } from '../support/web-sign-in.js'

/**
 * Machine identities: a service-account key file used by a client that signs its own
 * assertion (jose here, as Google's libraries would), the attacks on that grant, the CLI's
 * activate-service-account, and impersonation gated by roles/iam.serviceAccountTokenCreator.
 */
let p: PosternProcess
let keyFile: Record<string, string>
const sa = `robot-one@my-project.iam.postern.internal`
const AUD = 'https://my-service.example.com'

beforeAll(async () => {
  p = await startPostern()
  expect((await p.cli(['iam', 'service-accounts', 'create', 'robot-one'])).code).toBe(0)
  const file = join(mkdtempSync(join(tmpdir(), 'postern-key-')), 'key.json')
  const created = await p.cli(['iam', 'service-accounts', 'keys', 'create', file, '--iam-account', sa])
  expect(created.code, created.stderr).toBe(0)
  keyFile = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>
})
afterAll(() => p?.stop())

interface AssertionOptions {
  claims?: Record<string, unknown>
  iat?: number
  exp?: number
  aud?: string
  kid?: string | null
  jti?: string | null
  iss?: string
  noExp?: boolean
  key?: Record<string, string>
}

async function assertion(o: AssertionOptions = {}): Promise<string> {
  const key = o.key ?? keyFile
  const now = Math.floor(Date.now() / 1000)
  const iat = o.iat ?? now
  const jwt = new SignJWT({ target_audience: AUD, ...o.claims })
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT', ...(o.kid !== null && { kid: o.kid ?? key.private_key_id }) })
    .setIssuer(o.iss ?? key.client_email!)
    .setAudience(o.aud ?? key.token_uri!)
    .setIssuedAt(iat)
  if (!o.noExp) jwt.setExpirationTime(o.exp ?? iat + 3600)
  if (o.jti !== null) jwt.setJti(o.jti ?? randomUUID())
  return jwt.sign(await importPKCS8(key.private_key!, 'RS256'))
}

/** An assertion as google-auth for Python 1.x writes it: padded base64url segments, the signature over them as written. */
async function paddedAssertion(): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  const padded = (bytes: Buffer) => bytes.toString('base64').replace(/\+/g, '-').replace(/\//g, '_')
  // A 2048-bit signature is 256 bytes: its base64 always ends in '=='.
  const header = { typ: 'JWT', alg: 'RS256', kid: keyFile.private_key_id }
  const payload = { iat: now, exp: now + 3600, iss: keyFile.client_email, aud: keyFile.token_uri, target_audience: AUD }
  const input = `${padded(Buffer.from(JSON.stringify(header)))}.${padded(Buffer.from(JSON.stringify(payload)))}`
  return `${input}.${padded(createSign('RSA-SHA256').update(input).sign(keyFile.private_key!))}`
}

const exchange = async (jwt: string) => token(keyFile.token_uri!.replace(/\/oauth2\/token$/, ''), { grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: jwt })

describe('a service-account key file, used by a client that signs its own assertion', () => {
  it('keys create never leaves a key behind whose file it could not write: the file is made first', async () => {
    const keyCount = async () => JSON.parse((await p.cli(['iam', 'service-accounts', 'keys', 'list', '--iam-account', sa, '--format=json'])).stdout).length as number
    const before = await keyCount()
    const dir = mkdtempSync(join(tmpdir(), 'postern-key-'))
    writeFileSync(join(dir, 'taken.json'), 'mine')
    const taken = await p.cli(['iam', 'service-accounts', 'keys', 'create', join(dir, 'taken.json'), '--iam-account', sa])
    expect(taken).toMatchObject({ code: 1, stderr: expect.stringContaining('taken.json: it exists already (a key file is never overwritten: choose another name). No key was created.') })
    expect(readFileSync(join(dir, 'taken.json'), 'utf8')).toBe('mine')
    const nowhere = await p.cli(['iam', 'service-accounts', 'keys', 'create', join(dir, 'no', 'such', 'dir', 'k.json'), '--iam-account', sa])
    expect(nowhere).toMatchObject({ code: 1, stderr: expect.stringContaining('No key was created.') })
    // The API refusing (no such account) leaves no empty file behind.
    const unknown = await p.cli(['iam', 'service-accounts', 'keys', 'create', join(dir, 'k.json'), '--iam-account', 'ghost@my-project.iam.postern.internal'])
    expect(unknown.code).toBe(1)
    expect(existsSync(join(dir, 'k.json'))).toBe(false)
    expect(await keyCount()).toBe(before)
  })

  it('has Google’s layout and its token_uri is this server’s token endpoint', () => {
    expect(keyFile).toMatchObject({ type: 'service_account', project_id: 'my-project', client_email: sa, token_uri: `${p.controlUrl}/oauth2/token` })
    expect(keyFile.private_key).toMatch(/^-----BEGIN PRIVATE KEY-----/)
  })

  it('gets id_token whose aud is target_audience and whose email is the account, verifiable with the JWKS, beside an access token', async () => {
    const r = await exchange(await assertion())
    expect(r.status).toBe(200)
    expect(Object.keys(r.body).sort()).toEqual(['access_token', 'expires_in', 'id_token', 'token_type'])
    expect(r.body).toMatchObject({ token_type: 'Bearer', expires_in: 3600 })
    const jwks = createRemoteJWKSet(new URL(`${p.controlUrl}/oauth2/jwks`))
    const { payload } = await jwtVerify(r.body.id_token!, jwks, { issuer: p.controlUrl, audience: AUD })
    expect(payload).toMatchObject({ email: sa, email_verified: true, aud: AUD, sub: keyFile.client_id })
  })

  it('works like Google’s libraries that send no kid (gtoken) or no jti (google-auth): two identical assertions both work, as at Google', async () => {
    expect((await exchange(await assertion({ kid: null }))).status).toBe(200)
    // RS256 is deterministic: two credentials refreshed in one second sign the same bytes.
    const noJti = await assertion({ jti: null })
    expect((await exchange(noJti)).status).toBe(200)
    expect((await exchange(noJti)).status).toBe(200)
  })

  it.each([
    ['Google’s token URI, as google-auth for Python 2.x and Go sign it', 'https://oauth2.googleapis.com/token'],
    ['Google’s older token URI', 'https://www.googleapis.com/oauth2/v4/token'],
  ])('accepts an assertion whose aud is %s (it was sent to the key file’s token_uri all the same)', async (_what, aud) => {
    const r = await exchange(await assertion({ aud, jti: null }))
    expect(r.status, JSON.stringify(r.body)).toBe(200)
    expect(claimsOf(r.body.id_token!)).toMatchObject({ aud: AUD, email: sa })
  })

  it('accepts an assertion whose segments carry base64 = padding (google-auth for Python 1.x), signed over the padded bytes', async () => {
    const padded = await paddedAssertion()
    expect(padded.split('.').some((part) => part.endsWith('='))).toBe(true)
    const r = await exchange(padded)
    expect(r.status, JSON.stringify(r.body)).toBe(200)
    expect(claimsOf(r.body.id_token!)).toMatchObject({ aud: AUD, email: sa })
  })

  it('without target_audience returns an access token for the Postern API and an ID token for the CLI', async () => {
    const r = await exchange(await assertion({ claims: { target_audience: undefined } }))
    expect(r.status).toBe(200)
    expect(claimsOf(r.body.access_token!)).toMatchObject({ aud: p.controlUrl, client_id: keyFile.client_id, sub: keyFile.client_id })
    expect(claimsOf(r.body.id_token!)).toMatchObject({ aud: 'postern-cli', email: sa })
    expect(r.body.token_type).toBe('Bearer')
  })
})

describe('jwt-bearer attacks get invalid_grant and no token', () => {
  const now = () => Math.floor(Date.now() / 1000)
  const wrongAud = (aud: string) =>
    `The assertion audience (aud) is '${aud}', but this Postern's token endpoint is ${p.controlUrl}/oauth2/token (Google's token URIs are accepted too). ` +
    `A key file made while Postern had another issuer (--issuer) keeps that issuer's token_uri: create a new key (postern iam service-accounts keys create) or set the key file's token_uri to ${p.controlUrl}/oauth2/token.`
  const other = 'other-one@my-project.iam.postern.internal'
  it.each<[string, () => AssertionOptions, () => string]>([
    ['expired', () => ({ iat: now() - 3700, exp: now() - 100 }), () => 'The assertion has expired.'],
    ['lives longer than one hour', () => ({ exp: now() + 3601 }), () => 'The assertion lives longer than one hour (exp - iat > 3600).'],
    ['has the wrong aud', () => ({ aud: 'https://evil.example/token' }), () => wrongAud('https://evil.example/token')],
    ['has Postern’s control URL as aud', () => ({ aud: p.controlUrl }), () => wrongAud(p.controlUrl)],
    // A key file made before --issuer changed: its token_uri (signed as aud) is the old issuer's.
    ['names the token endpoint of another issuer', () => ({ aud: 'https://localhost:21141/oauth2/token' }), () => wrongAud('https://localhost:21141/oauth2/token')],
    ['has no exp', () => ({ noExp: true }), () => 'The assertion has no exp claim.'],
    ['expires before it was issued', () => ({ iat: now() + 50, exp: now() + 10 }), () => 'The assertion expires before it was issued (exp < iat).'],
    ['names a target_audience with a line break', () => ({ claims: { target_audience: 'https://a.example\nx' } }), () => 'target_audience must be a string of 1 to 2,048 characters, none of them whitespace or a control character.'],
    ['claims another account with this key', () => ({ iss: other }), () => `No key '${keyFile.private_key_id}' of ${other} exists (it may have been deleted).`],
  ])('an assertion that %s', async (_what, options, description) => {
    const r = await exchange(await assertion(options()))
    expect(r.status).toBe(400)
    expect(r.body).toEqual({ error: 'invalid_grant', error_description: description() })
  })

  it('a repeated jti', async () => {
    const jti = randomUUID()
    expect((await exchange(await assertion({ jti }))).status).toBe(200)
    const again = await exchange(await assertion({ jti, claims: { target_audience: 'https://other.example' } }))
    expect(again).toEqual({ status: 400, body: { error: 'invalid_grant', error_description: 'This assertion (its jti) was already used.' } })
  })

  it('signed by a deleted key, or for a disabled account', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'postern-key-'))
    expect((await p.cli(['iam', 'service-accounts', 'keys', 'create', join(dir, 'k2.json'), '--iam-account', sa])).code).toBe(0)
    const second = JSON.parse(readFileSync(join(dir, 'k2.json'), 'utf8')) as Record<string, string>
    expect((await exchange(await assertion({ key: second }))).status).toBe(200)
    expect((await p.cli(['iam', 'service-accounts', 'keys', 'delete', second.private_key_id!, '--iam-account', sa])).code).toBe(0)
    const deleted = await exchange(await assertion({ key: second }))
    expect(deleted).toEqual({ status: 400, body: { error: 'invalid_grant', error_description: `No key '${second.private_key_id}' of ${sa} exists (it may have been deleted).` } })
    // Without a kid, the deleted key is not among those tried either.
    expect((await exchange(await assertion({ key: second, kid: null }))).body.error_description).toBe('The assertion signature does not verify with any key of the service account.')

    expect((await p.cli(['iam', 'service-accounts', 'disable', sa])).code).toBe(0)
    const disabled = await exchange(await assertion())
    expect(disabled).toEqual({ status: 400, body: { error: 'invalid_grant', error_description: `The service account ${sa} is disabled.` } })
    expect((await p.cli(['iam', 'service-accounts', 'enable', sa])).code).toBe(0)
    expect((await exchange(await assertion())).status).toBe(200)
  })
})

describe('the CLI as a service account, and impersonation', () => {
  it('activate-service-account, then print-identity-token --audiences', async () => {
    const configDir = mkdtempSync(join(tmpdir(), 'postern-sa-cli-'))
    const file = join(configDir, 'key.json')
    writeFileSync(file, JSON.stringify(keyFile), { mode: 0o600 })
    // gcloud's form names the account too; a key of another account is a usage error.
    const wrong = await p.cli(['auth', 'activate-service-account', 'other@my-project.iam.postern.internal', '--key-file', file], { configDir })
    expect(wrong).toMatchObject({ code: 2, stderr: expect.stringContaining(`is the key of ${sa}, not of other@my-project.iam.postern.internal.`) })
    // A Google Cloud key, by habit: named as such, with the command that makes a Postern one.
    const google = join(configDir, 'google-key.json')
    writeFileSync(google, JSON.stringify({ ...keyFile, client_email: 'ci@acme-prod.iam.gserviceaccount.com', token_uri: 'https://oauth2.googleapis.com/token' }), { mode: 0o600 })
    const googles = await p.cli(['auth', 'activate-service-account', '--key-file', google], { configDir })
    expect(googles).toMatchObject({ code: 1, stderr: expect.stringContaining('is a Google Cloud key (ci@acme-prod.iam.gserviceaccount.com), not one of this Postern\'s: make one with postern iam service-accounts keys create') })
    expect(googles.stderr).not.toContain('googleapis.com:')
    // And the same account named as a member.
    const member = await p.cli(['projects', 'add-iam-policy-binding', 'my-project', '--member=serviceAccount:ci@acme-prod.iam.gserviceaccount.com', '--role=roles/run.invoker'])
    expect(member.code).toBe(1)
    expect(member.stderr).toContain("is Google Cloud's, not Postern's")
    expect(member.stderr).toContain('postern iam service-accounts create ci --project=acme-prod')
    const activated = await p.cli(['auth', 'activate-service-account', sa, '--key-file', file, '-q'], { configDir })
    expect(activated, activated.stderr).toMatchObject({ code: 0, stderr: '' })
    const printed = await p.cli(['auth', 'print-identity-token', '--audiences', AUD], { configDir })
    expect(printed.code, printed.stderr).toBe(0)
    expect(claimsOf(printed.stdout.trim())).toMatchObject({ aud: AUD, email: sa })
  })

  it('needs roles/iam.serviceAccountTokenCreator on the account: denied naming the permission, then allowed', async () => {
    const bob = 'bob@example.com'
    const password = await createUser(p.api, bob)
    const configDir = mkdtempSync(join(tmpdir(), 'postern-bob-'))
    expect((await p.cli(['config', 'set', 'server', p.controlUrl], { configDir })).code).toBe(0)
    // bob may see the project's services: signing in makes it his current project, as gcloud init would.
    expect((await p.cli(['projects', 'add-iam-policy-binding', 'my-project', `--member=user:${bob}`, '--role=roles/run.viewer'])).code).toBe(0)
    // bob signs in with the device flow, approving in a (browserless) web session.
    const login = startLogin(['--no-browser'], { configDir })
    await approveDevice(p.controlUrl, { email: bob, password, code: (await login.prompt).code })
    const done = await login.done
    expect(done.code, done.stderr).toBe(0)
    expect(done.stderr).toContain(`You are now logged in as [${bob}].`)
    expect(done.stderr).toContain('Your current project is [my-project] (to change it: postern config set project PROJECT_ID).')
    expect(await p.cli(['config', 'get', 'project'], { configDir })).toMatchObject({ code: 0, stdout: 'my-project\n' })

    const args = ['auth', 'print-identity-token', '--impersonate-service-account', sa, '--audiences', AUD]
    const denied = await p.cli(args, { configDir })
    expect(denied.code).toBe(1)
    expect(denied.stderr).toContain('iam.serviceAccounts.getOpenIdToken')
    expect(denied.stdout).toBe('')

    const grant = await p.cli(['iam', 'service-accounts', 'add-iam-policy-binding', sa, '--member', `user:${bob}`, '--role', 'roles/iam.serviceAccountTokenCreator'])
    expect(grant.code, grant.stderr).toBe(0)
    const allowed = await p.cli(args, { configDir })
    expect(allowed.code, allowed.stderr).toBe(0)
    const claims = claimsOf(allowed.stdout.trim())
    expect(claims).toMatchObject({ aud: AUD, sub: keyFile.client_id, iss: p.controlUrl })
    expect(claims.email).toBeUndefined()
    const withEmail = await p.cli([...args, '--include-email'], { configDir })
    expect(claimsOf(withEmail.stdout.trim()).email).toBe(sa)

    // An access token minted by impersonation ends with the sign-in of the caller who minted it,
    // as bob's own do (postern auth revoke); the key's own token comes from no sign-in and goes on.
    const userinfo = async (bearer: string) => (await fetch(`${p.controlUrl}/oauth2/userinfo`, { headers: { authorization: `Bearer ${bearer}` } })).status
    const keyToken = (await exchange(await assertion())).body.access_token!
    expect(claimsOf(keyToken).sid).toBeUndefined()
    const own = (await p.cli(['auth', 'print-access-token'], { configDir })).stdout.trim()
    const minted = await p.cli(['auth', 'print-access-token', '--impersonate-service-account', sa], { configDir })
    expect(minted.code, minted.stderr).toBe(0)
    const impersonated = minted.stdout.trim()
    expect(claimsOf(impersonated)).toMatchObject({ sub: keyFile.client_id, sid: claimsOf(own).sid })
    for (const t of [own, impersonated, keyToken]) expect(await userinfo(t)).toBe(200)
    // Neither of the account's tokens ends a sign-in when revoked: the impersonated one is not bob's to end his with.
    for (const t of [impersonated, keyToken]) {
      const res = await fetch(`${p.controlUrl}/oauth2/revoke`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token: t }) })
      expect([res.status, ((await res.json()) as { error: string }).error]).toEqual([400, 'unsupported_token_type'])
    }
    for (const t of [own, impersonated]) expect(await userinfo(t)).toBe(200)
    const revoked = await p.cli(['auth', 'revoke', bob], { configDir })
    expect(revoked.code, revoked.stderr).toBe(0)
    expect(await userinfo(own)).toBe(401)
    expect(await userinfo(impersonated)).toBe(401)
    expect(await userinfo(keyToken)).toBe(200)
  })
})

describe('a service account’s description, as gcloud’s --description', () => {
  it('is kept on create, shown by describe, changed and cleared by update', async () => {
    const email = 'described@my-project.iam.postern.internal'
    const describe = async () => JSON.parse((await p.cli(['iam', 'service-accounts', 'describe', email, '--format=json'])).stdout) as Record<string, unknown>
    const created = await p.cli(['iam', 'service-accounts', 'create', 'described', '--display-name=Deployer', '--description=Deploys — main branch'])
    expect(created.code, created.stderr).toBe(0)
    expect(await describe()).toMatchObject({ displayName: 'Deployer', description: 'Deploys — main branch' })

    const updated = await p.cli(['iam', 'service-accounts', 'update', email, '--description=Deploys releases'])
    expect(updated.code, updated.stderr).toBe(0)
    expect(updated.stderr).toContain(`Updated service account [${email}].`)
    expect(await describe()).toMatchObject({ displayName: 'Deployer', description: 'Deploys releases' })
    expect((await p.cli(['iam', 'service-accounts', 'update', email, '--description='])).code).toBe(0)
    expect(await describe()).toMatchObject({ displayName: 'Deployer', description: '' })

    const nothing = await p.cli(['iam', 'service-accounts', 'update', email])
    expect(nothing).toMatchObject({ code: 2, stderr: expect.stringContaining('Nothing to update: give --display-name or --description.') })
    const tooLong = await p.cli(['iam', 'service-accounts', 'update', email, `--description=${'x'.repeat(257)}`])
    expect(tooLong.code).toBe(1)
    expect(tooLong.stderr).toContain('description')
  })
})
