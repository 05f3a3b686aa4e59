import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DATA_PLANES, startPostern, type PosternProcess } from '../support/server.js'
import { startUpstream } from '../support/upstream.js'

/**
 * Debian's python3-google-auth (1.5.1), unmodified: IDTokenCredentials from a key file made by
 * `postern iam service-accounts keys create` (its assertions pad their base64 segments and carry
 * no jti), AuthorizedSession through the gateway (either data plane), and id_token.verify_token against Postern's
 * Google-style certs URL ({kid: PEM certificate}). google-auth 2.x signs Google's token URI as
 * the assertion's aud instead; no PyPI here, so that value is covered by a test that signs such
 * an assertion itself (auth-keyfile.test.ts).
 */
const PYTHON = '/usr/bin/python3' // Debian's, which has python3-google-auth; not a pyenv python3 on PATH
const SCRIPT = fileURLToPath(new URL('./google-clients/python_id_token.py', import.meta.url))
const VERIFY = fileURLToPath(new URL('./google-clients/python_verify_assertion.py', import.meta.url))
const SA = 'py-bot@my-project.iam.postern.internal'

interface PythonAnswer {
  status?: number
  body?: string
  claims?: Record<string, unknown>
  tokens?: string[]
  same_second?: boolean
  refresh_error?: string
}

describe.each(DATA_PLANES)('google-auth for Python 1.5.1 with a Postern key file (%s data plane)', (dataPlane) => {
  let p: PosternProcess
  let upstream: Awaited<ReturnType<typeof startUpstream>>
  let url: string
  let keyFile: string

  beforeAll(async () => {
    const probe = spawnSync(PYTHON, ['-c', 'import google.oauth2.service_account, google.auth.transport.requests'], { encoding: 'utf8' })
    if (probe.status !== 0) throw new Error(`Debian's google-auth for Python is needed: apt-get install -y python3-google-auth python3-requests\n${probe.stderr}`)
    ;[p, upstream] = await Promise.all([startPostern({ dataPlane }), startUpstream()])
    const created = await p.cli(['services', 'create', 'hello', `--upstream=${upstream.url}`, '--format=json'])
    expect(created.code, created.stderr).toBe(0)
    url = JSON.parse(created.stdout).uri
    expect((await p.cli(['iam', 'service-accounts', 'create', 'py-bot'])).code).toBe(0)
    keyFile = join(mkdtempSync(join(tmpdir(), 'postern-key-')), 'key.json')
    const key = await p.cli(['iam', 'service-accounts', 'keys', 'create', keyFile, '--iam-account', SA])
    expect(key.code, key.stderr).toBe(0)
  })
  afterAll(async () => {
    await Promise.all([p?.stop(), upstream?.close()])
  })

  /** Runs the Python client in its own process (asynchronously: the upstream it reaches lives in this one). */
  function python(o: { credentials?: number; keyFile?: string } = {}): Promise<PythonAnswer> {
    const args = [SCRIPT, o.keyFile ?? keyFile, url, `http://127.0.0.1:${p.gatewayPort}`, new URL(url).host, `${p.controlUrl}/oauth2/v1/certs`, String(o.credentials ?? 1)]
    const child = spawn(PYTHON, args, { env: { PATH: process.env.PATH!, HOME: mkdtempSync(join(tmpdir(), 'postern-home-')) }, stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 })
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => (out += d))
    child.stderr.on('data', (d: Buffer) => (err += d))
    return new Promise((resolve, reject) => child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out) as PythonAnswer) : reject(new Error(`python exited ${code}: ${err}`)))))
  }

  it('IDTokenCredentials.from_service_account_file: 403 before the grant, 200 through the gateway after; the token verifies with verify_token(certs_url=…)', async () => {
    const before = await python()
    expect(before.refresh_error).toBeUndefined()
    expect(before.status).toBe(403)
    expect(before.claims).toMatchObject({ aud: url, email: SA, iss: p.controlUrl })

    const grant = await p.cli(['services', 'add-iam-policy-binding', 'hello', `--member=serviceAccount:${SA}`, '--role=roles/run.invoker'])
    expect(grant.code, grant.stderr).toBe(0)
    const after = await python()
    expect(after.status, after.body).toBe(200)
    expect(JSON.parse(after.body!).headers['x-postern-authenticated-principal']).toBe(`serviceAccount:${SA}`)
  })

  it('two credentials for the same key and audience refreshed in the same second both get a token', async () => {
    // Without a jti two such assertions are byte for byte the same; both must work, as at Google.
    let answer: PythonAnswer = {}
    for (let attempt = 0; attempt < 5 && !answer.same_second; attempt++) answer = await python({ credentials: 2 })
    expect(answer.same_second).toBe(true)
    expect(answer.refresh_error).toBeUndefined()
    expect(answer.tokens).toHaveLength(2)
    expect(answer.status).toBe(200)
  })

  it('an upstream in Python verifies X-Postern-Jwt-Assertion by the README recipe, and refuses a caller’s ID token for the same audience sent in its place', async () => {
    const grant = await p.cli(['services', 'add-iam-policy-binding', 'hello', `--member=serviceAccount:${SA}`, '--role=roles/run.invoker'])
    expect(grant.code, grant.stderr).toBe(0)
    expect((await python()).status).toBe(200)
    const assertion = String(upstream.seen.at(-1)!.headers['x-postern-jwt-assertion'])
    const verify = (token: string) => {
      const r = spawnSync(PYTHON, [VERIFY, token, `${p.controlUrl}/oauth2/v1/certs`, url, `${p.controlUrl}/gateway`], { encoding: 'utf8', env: { PATH: process.env.PATH! } })
      expect(r.status, r.stderr).toBe(0)
      return JSON.parse(r.stdout) as { ok: boolean; email?: string; service?: string; error?: string }
    }
    expect(verify(assertion)).toEqual({ ok: true, email: SA, service: 'projects/my-project/services/hello' })
    // Any caller can get an ID token whose aud is the service URL; verify_token alone would take it.
    const idToken = (await p.cli(['auth', 'print-identity-token', `--audiences=${url}`])).stdout.trim()
    expect(verify(idToken)).toEqual({ ok: false, error: `not issued by the gateway: iss is '${p.controlUrl}'` })
  })

  it('the certs URL serves {kid: PEM certificate} for every published key', async () => {
    const certs = (await (await fetch(`${p.controlUrl}/oauth2/v1/certs`)).json()) as Record<string, string>
    const jwks = (await (await fetch(`${p.controlUrl}/oauth2/jwks`)).json()) as { keys: { kid: string }[] }
    expect(Object.keys(certs).sort()).toEqual(jwks.keys.map((k) => k.kid).sort())
    for (const pem of Object.values(certs)) expect(pem).toMatch(/^-----BEGIN CERTIFICATE-----\n[\s\S]+\n-----END CERTIFICATE-----\n$/)
  })

  it('a deleted key gets the RefreshError a Google client gets (invalid_grant), not a server error', async () => {
    const second = join(mkdtempSync(join(tmpdir(), 'postern-key-')), 'key.json')
    expect((await p.cli(['iam', 'service-accounts', 'keys', 'create', second, '--iam-account', SA])).code).toBe(0)
    const keyId = JSON.parse(readFileSync(second, 'utf8')).private_key_id as string
    expect((await p.cli(['iam', 'service-accounts', 'keys', 'delete', keyId, '--iam-account', SA])).code).toBe(0)
    const refused = await python({ keyFile: second })
    expect(refused.refresh_error).toMatch(/invalid_grant/)
    expect(refused.refresh_error).toContain(`No key '${keyId}'`)
  })

  it('generateAccessToken and generateIdToken take the bodies google-auth 2.x sends (null delegates and scope) and answer an expireTime its strptime reads', async () => {
    // Debian's 1.5.1 has no impersonated_credentials and PyPI is out of reach: these are 2.x's
    // bodies (impersonated_credentials.py), and its own format string, run by Python.
    const token = await p.ownerToken()
    const call = async (method: string, body: unknown) => {
      const res = await fetch(`${p.controlUrl}/v1/projects/-/serviceAccounts/${SA}:${method}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) })
      return { status: res.status, body: (await res.json()) as Record<string, string> }
    }
    const access = await call('generateAccessToken', { delegates: null, scope: null, lifetime: '3600s' })
    expect(access.status, JSON.stringify(access.body)).toBe(200)
    const parsed = spawnSync(PYTHON, ['-c', 'import datetime, sys; print(datetime.datetime.strptime(sys.argv[1], "%Y-%m-%dT%H:%M:%SZ").isoformat())', access.body.expireTime!], { encoding: 'utf8' })
    expect(parsed.status, parsed.stderr).toBe(0)
    expect(Date.parse(`${parsed.stdout.trim()}Z`) - Date.now()).toBeGreaterThan(3_500_000)
    const id = await call('generateIdToken', { audience: url, delegates: null, includeEmail: true })
    expect(id.status, JSON.stringify(id.body)).toBe(200)
    expect(JSON.parse(Buffer.from(id.body.token!.split('.')[1]!, 'base64url').toString())).toMatchObject({ aud: url, email: SA })
  })
})
