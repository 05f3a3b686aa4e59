import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ExternalAccountClient, GoogleAuth, IdTokenClient, Impersonated, type AuthClient } from 'google-auth-library'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventually } from '../support/eventually.js'
import { gatewayStatus } from '../support/gateway-status.js'
import { startExternalIdp, type ExternalIdp } from '../support/external-idp.js'
import { startPostern, type PosternProcess } from '../support/server.js'
import { startUpstream } from '../support/upstream.js'
import { claimsOf } from '../support/web-sign-in.js'

/**
 * Google's `external_account` credential files against Postern, as README's workforce federation
 * section tells: `postern iam workforce-pools create-cred-config` writes the file, and
 * google-auth-library (npm, unmodified) loads it with GoogleAuth({keyFile}) and calls the API
 * with the access token it exchanges for; that token is not for services (401 at the gateway).
 * A service is called with an ID token from Impersonated (the file's client as its source,
 * Postern as its endpoint) for a service account the federated people may impersonate.
 */
const POOL = 'acme-staff'
const PROVIDER = 'ci-idp'
const SA = 'ci-runner@my-project.iam.postern.internal'

let p: PosternProcess
let idp: ExternalIdp
let upstream: Awaited<ReturnType<typeof startUpstream>>
let serviceUrl: string
let dir: string
let tokenFile: string

const owner = async (args: string[]) => {
  const r = await p.cli(args)
  expect(r.code, r.stderr).toBe(0)
  return r
}

beforeAll(async () => {
  ;[p, idp, upstream] = await Promise.all([startPostern(), startExternalIdp(), startUpstream()])
  await owner(['iam', 'workforce-pools', 'create', POOL, '--session-duration', '2h'])
  await owner(['iam', 'workforce-pools', 'providers', 'create-oidc', PROVIDER, '--workforce-pool', POOL, '--issuer-uri', idp.issuer, '--client-id', idp.clientId, '--attribute-mapping', 'postern.subject=assertion.sub,postern.groups=assertion.groups'])
  serviceUrl = JSON.parse((await owner(['services', 'create', 'hello', `--upstream=${upstream.url}`, '--format=json'])).stdout).uri
  await owner(['iam', 'service-accounts', 'create', 'ci-runner'])
  // The people of group ci may act as the account, and the account may invoke the service.
  await owner(['iam', 'service-accounts', 'add-iam-policy-binding', SA, `--member=principalSet://iam.postern/workforcePools/${POOL}/group/ci`, '--role=roles/iam.serviceAccountTokenCreator'])
  await owner(['services', 'add-iam-policy-binding', 'hello', `--member=serviceAccount:${SA}`, '--role=roles/run.invoker'])
  dir = mkdtempSync(join(tmpdir(), 'postern-extacct-'))
  tokenFile = join(dir, 'token.jwt')
  // What a CI system leaves for its job: its OIDC token in a file (with echo's newline).
  writeFileSync(tokenFile, `${await idp.mint({ sub: 'build-7', groups: ['ci'] })}\n`)
})
afterAll(async () => {
  await Promise.all([p?.stop(), idp?.close(), upstream?.close()])
})

async function createCredConfig(file: string, ...extra: string[]): Promise<Record<string, unknown>> {
  const r = await owner(['iam', 'workforce-pools', 'create-cred-config', `workforcePools/${POOL}/providers/${PROVIDER}`, `--credential-source-file=${tokenFile}`, `--output-file=${file}`, ...extra])
  expect(r.stderr).toBe(`Created credential configuration file [${file}].\n`)
  expect(r.stdout).toBe('')
  return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>
}

/** The client Google's default credentials make of the file, as any code using the library gets it. */
const clientOf = (keyFile: string): Promise<AuthClient> => new GoogleAuth({ keyFile, scopes: ['https://www.googleapis.com/auth/cloud-platform'] }).getClient()

describe('postern iam workforce-pools create-cred-config', () => {
  it('writes an external_account file google-auth-library loads as it is; its token calls the API, not a service', async () => {
    const file = join(dir, 'cred.json')
    expect(await createCredConfig(file)).toEqual({
      type: 'external_account',
      audience: `//iam.postern/workforcePools/${POOL}/providers/${PROVIDER}`,
      subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
      token_url: `${p.controlUrl}/oauth2/token`,
      credential_source: { file: tokenFile },
    })
    // gcloud's workforce_pool_user_project, which this file leaves out, would not even load.
    const withUserProject = { ...JSON.parse(readFileSync(file, 'utf8')), workforce_pool_user_project: 'my-project' }
    expect(() => ExternalAccountClient.fromJSON(withUserProject)).toThrow(/should not be set for non-workforce pool credentials/)
    const client = await clientOf(file)
    expect(client.constructor.name).toBe('IdentityPoolClient')
    const projects = await client.request<{ projects?: unknown[] }>({ url: `${p.controlUrl}/v1/projects` })
    expect(projects.status).toBe(200)
    const { token } = await client.getAccessToken()
    expect(claimsOf(token!)).toMatchObject({ aud: p.controlUrl, federation: { pool: POOL, subject: 'build-7' } })
    // An access token is for the API: the gateway refuses it even where the principal may invoke.
    await owner(['services', 'add-iam-policy-binding', 'hello', `--member=principal://iam.postern/workforcePools/${POOL}/subject/build-7`, '--role=roles/run.invoker'])
    try {
      expect(await gatewayStatus(p.gatewayPort, new URL(serviceUrl).host, token!)).toBe(401)
    } finally {
      await owner(['services', 'remove-iam-policy-binding', 'hello', `--member=principal://iam.postern/workforcePools/${POOL}/subject/build-7`, '--role=roles/run.invoker'])
    }
  })

  it('calls a service: Impersonated, with the file’s client as source and Postern as endpoint, mints an ID token for it', async () => {
    const file = join(dir, 'cred-for-services.json')
    await createCredConfig(file)
    const sourceClient = await clientOf(file)
    // As README's recipe: nothing but the source, the account and Postern's endpoint.
    const impersonated = new Impersonated({ sourceClient, targetPrincipal: SA, endpoint: p.controlUrl })
    const idToken = await impersonated.fetchIdToken(serviceUrl)
    expect(claimsOf(idToken)).toMatchObject({ aud: serviceUrl, iss: p.controlUrl })
    const host = new URL(serviceUrl).host
    expect(await gatewayStatus(p.gatewayPort, host, idToken)).toBe(200)
    // The same through an IdTokenClient, as code hands it to a request library.
    const headers = await new IdTokenClient({ targetAudience: serviceUrl, idTokenProvider: impersonated }).getRequestHeaders(serviceUrl)
    const bearer = headers.get('authorization')!.replace(/^Bearer /, '')
    expect(await gatewayStatus(p.gatewayPort, host, bearer)).toBe(200)
  })

  it('refuses one outside the group that may impersonate: no ID token', async () => {
    const otherToken = join(dir, 'other.jwt')
    writeFileSync(otherToken, await idp.mint({ sub: 'intruder', groups: ['sales'] }))
    const file = join(dir, 'cred-other.json')
    await owner(['iam', 'workforce-pools', 'create-cred-config', `workforcePools/${POOL}/providers/${PROVIDER}`, `--credential-source-file=${otherToken}`, `--output-file=${file}`])
    const impersonated = new Impersonated({ sourceClient: await clientOf(file), targetPrincipal: SA, endpoint: p.controlUrl })
    await expect(impersonated.fetchIdToken(serviceUrl)).rejects.toMatchObject({ status: 403 })
  })

  it('with --service-account, the library trades the token for the account’s access token at Postern’s generateAccessToken', async () => {
    const file = join(dir, 'cred-sa.json')
    const written = await createCredConfig(file, `--service-account=${SA}`)
    expect(written.service_account_impersonation_url).toBe(`${p.controlUrl}/v1/projects/-/serviceAccounts/${SA}:generateAccessToken`)
    const client = await clientOf(file)
    const { token } = await client.getAccessToken()
    expect(claimsOf(token!)).toMatchObject({ aud: p.controlUrl })
    expect(claimsOf(token!).federation).toBeUndefined()
    expect((await client.request({ url: `${p.controlUrl}/v1/projects` })).status).toBe(200)
    // The API knows the caller as the account.
    const users = await p.api('GET', '/v1/users', undefined, token!)
    expect(users.status).toBe(403)
    expect(JSON.stringify(users.body)).toContain(`serviceAccount:${SA}`)
  })

  it('the service’s ID token ends with the federated sign-in it was minted under: disabling the provider stops it', async () => {
    const file = join(dir, 'cred-ends.json')
    await createCredConfig(file)
    const idToken = await new Impersonated({ sourceClient: await clientOf(file), targetPrincipal: SA, endpoint: p.controlUrl }).fetchIdToken(serviceUrl)
    const host = new URL(serviceUrl).host
    expect(await gatewayStatus(p.gatewayPort, host, idToken)).toBe(200)
    await owner(['iam', 'workforce-pools', 'providers', 'update', PROVIDER, '--workforce-pool', POOL, '--disabled'])
    try {
      await eventually(3000, async () => (await gatewayStatus(p.gatewayPort, host, idToken)) === 401, 'the gateway refusing the impersonated ID token')
    } finally {
      await owner(['iam', 'workforce-pools', 'providers', 'update', PROVIDER, '--workforce-pool', POOL, '--no-disabled'])
    }
  })

  it('writes a JSON credential source with its field; refuses flags that do not go together, and an unknown provider or account', async () => {
    const jsonToken = join(dir, 'token.json')
    writeFileSync(jsonToken, JSON.stringify({ id_token: readFileSync(tokenFile, 'utf8').trim() }))
    const file = join(dir, 'cred-json.json')
    const r = await owner(['iam', 'workforce-pools', 'create-cred-config', `locations/global/workforcePools/${POOL}/providers/${PROVIDER}`, `--credential-source-file=${jsonToken}`, '--credential-source-type=json', '--credential-source-field-name=id_token', `--output-file=${file}`])
    expect(r.code).toBe(0)
    const written = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>
    expect(written.credential_source).toEqual({ file: jsonToken, format: { type: 'json', subject_token_field_name: 'id_token' } })
    expect((await (await clientOf(file)).getAccessToken()).token).toBeTruthy()

    const base = ['iam', 'workforce-pools', 'create-cred-config', `workforcePools/${POOL}/providers/${PROVIDER}`, `--credential-source-file=${tokenFile}`]
    const missingField = await p.cli([...base, '--credential-source-type=json', `--output-file=${join(dir, 'x1.json')}`])
    expect(missingField.code).toBe(2)
    expect(missingField.stderr).toContain('--credential-source-field-name')
    const wrongProvider = await p.cli(['iam', 'workforce-pools', 'create-cred-config', `workforcePools/${POOL}/providers/nobody`, `--credential-source-file=${tokenFile}`, `--output-file=${join(dir, 'x2.json')}`])
    expect(wrongProvider.code).toBe(1)
    const wrongAccount = await p.cli([...base, '--service-account=nobody@my-project.iam.postern.internal', `--output-file=${join(dir, 'x3.json')}`])
    expect(wrongAccount.code).toBe(1)
    // gcloud's flag for Google's pools, typed by habit: refused with the reason.
    const habit = await p.cli([...base, '--workforce-pool-user-project=my-project', `--output-file=${join(dir, 'x4.json')}`])
    expect(habit.code).toBe(2)
    expect(habit.stderr).toContain('workforce_pool_user_project')
  })
})
