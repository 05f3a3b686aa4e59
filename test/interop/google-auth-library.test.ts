import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from '../support/ports.js'
import { DATA_PLANES, startPostern, type PosternProcess } from '../support/server.js'
import { posternOnPath, sh, shBackground } from '../support/shell.js'
import { createUser, signInUser } from '../support/sign-in.js'
import { startUpstream } from '../support/upstream.js'
import { claimsOf } from '../support/web-sign-in.js'

/**
 * npm google-auth-library (the newest release that supports Node 20), unmodified, through
 * `postern metadata-server`: its default credentials cannot be pointed at another token endpoint,
 * so this is how Node code gets Postern tokens — keyless by impersonation, or from a key file held
 * by the metadata server only. Its Impersonated credentials can be (`endpoint`), and are too. Each ends in a 403 before the invoker grant and a 200 through the gateway after,
 * on either data plane.
 */
const SCRIPT = fileURLToPath(new URL('./google-clients/node-id-token.mjs', import.meta.url))
const IMPERSONATED = fileURLToPath(new URL('./google-clients/node-impersonated.mjs', import.meta.url))

describe.each(DATA_PLANES)('Google’s Node client library (%s data plane)', (dataPlane) => {
  let p: PosternProcess
  let upstream: Awaited<ReturnType<typeof startUpstream>>
  let url: string
  let bin: string
  const servers: ChildProcess[] = []

  beforeAll(async () => {
    ;[p, upstream] = await Promise.all([startPostern({ dataPlane }), startUpstream()])
    bin = posternOnPath()
    const created = await p.cli(['services', 'create', 'hello', `--upstream=${upstream.url}`, '--format=json'])
    expect(created.code, created.stderr).toBe(0)
    url = JSON.parse(created.stdout).uri
    for (const name of ['keyless-bot', 'keyed-bot']) expect((await p.cli(['iam', 'service-accounts', 'create', name])).code).toBe(0)
  })
  afterAll(async () => {
    for (const s of servers) s.kill('SIGTERM')
    await Promise.all([p?.stop(), upstream?.close()])
  })

  const email = (name: string) => `${name}@my-project.iam.postern.internal`

  /** Starts `postern metadata-server ARGS` as the owner; resolves with the host:port it serves. */
  async function metadataServer(args: string, configDir = p.configDir): Promise<string> {
    const port = await freePort()
    const { child, banner } = await shBackground(`postern metadata-server --port ${port} ${args}`, { configDir, binDir: bin })
    servers.push(child)
    expect(banner).toBe(`export GCE_METADATA_HOST=127.0.0.1:${port} GCE_METADATA_IP=127.0.0.1:${port} GCE_METADATA_ROOT=127.0.0.1:${port}\n`)
    return `127.0.0.1:${port}`
  }

  /** Runs the Node client in its own process, with nothing but GCE_METADATA_HOST to find its identity. */
  function nodeClient(metadataHost: string): Promise<{ status: number; body: string; authorization: string; accessToken: string; projectId: string; email: string }> {
    return runNode(SCRIPT, [url, String(p.gatewayPort)], { GCE_METADATA_HOST: metadataHost })
  }

  function runNode<T>(script: string, args: string[], extraEnv: Record<string, string> = {}): Promise<T> {
    const home = mkdtempSync(join(tmpdir(), 'postern-home-'))
    const env: Record<string, string> = { PATH: process.env.PATH!, HOME: home, ...extraEnv }
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [script, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] })
      let out = ''
      let err = ''
      child.stdout.on('data', (d: Buffer) => (out += d))
      child.stderr.on('data', (d: Buffer) => (err += d))
      child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`node client exited ${code}: ${err}`))))
    })
  }

  async function grantInvoker(account: string): Promise<void> {
    const r = await p.cli(['services', 'add-iam-policy-binding', 'hello', `--member=serviceAccount:${account}`, '--role=roles/run.invoker'])
    expect(r.code, r.stderr).toBe(0)
  }

  describe('google-auth-library getIdTokenClient through postern metadata-server', () => {
    it('keyless, impersonating a service account: 403 before the grant, 200 through the gateway after', async () => {
      const sa = email('keyless-bot')
      const host = await metadataServer(`--impersonate-service-account ${sa}`)
      const before = await nodeClient(host)
      expect(before.email).toBe(sa)
      expect(before.projectId).toBe('my-project')
      expect(claimsOf(before.authorization.replace(/^Bearer /, ''))).toMatchObject({ aud: url, email: sa, iss: p.controlUrl })
      expect(before.status).toBe(403)
      expect(JSON.parse(before.body).error.message).toContain(`serviceAccount:${sa}`)

      await grantInvoker(sa)
      const after = await nodeClient(host)
      expect(after.status, after.body).toBe(200)
      expect(JSON.parse(after.body).headers['x-postern-authenticated-principal']).toBe(`serviceAccount:${sa}`)
      // The metadata server's access token is an API token of the account: not 401 at the API (403: it holds no role there), 401 at the gateway.
      expect(claimsOf(after.accessToken)).toMatchObject({ aud: p.controlUrl, sub: claimsOf(after.authorization.replace(/^Bearer /, '')).sub })
      expect((await request(`${p.controlUrl}/v1/projects/my-project/serviceAccounts`, { headers: { authorization: `Bearer ${after.accessToken}` } })).statusCode).toBe(403)
    })

    it('with a key file only the metadata server holds: 403 before the grant, 200 after', async () => {
      const sa = email('keyed-bot')
      const keyFile = join(mkdtempSync(join(tmpdir(), 'postern-key-')), 'key.json')
      expect((await p.cli(['iam', 'service-accounts', 'keys', 'create', keyFile, '--iam-account', sa])).code).toBe(0)
      const host = await metadataServer(`--key-file ${keyFile}`, mkdtempSync(join(tmpdir(), 'postern-nobody-')))
      const before = await nodeClient(host)
      expect(before.email).toBe(sa)
      expect(before.status).toBe(403)
      await grantInvoker(sa)
      expect((await nodeClient(host)).status).toBe(200)
    })

    it('without a flag, hands out the signed-in account’s own tokens', async () => {
      const host = await metadataServer('')
      const r = await nodeClient(host)
      expect(r.email).toBe('owner@example.com')
      expect(claimsOf(r.authorization.replace(/^Bearer /, ''))).toMatchObject({ aud: url, email: 'owner@example.com' })
      expect(r.status).toBe(200) // the owner holds roles/owner on the organization, which invokes
    })

    it('caches each token and renews it before it expires: two clients get the same ID token', async () => {
      const host = await metadataServer(`--impersonate-service-account ${email('keyless-bot')}`)
      const [a, b] = [await nodeClient(host), await nodeClient(host)]
      expect(a.authorization).toBe(b.authorization)
      expect(a.accessToken).toBe(b.accessToken)
    })
  })

  it('Impersonated, pointed at Postern (its endpoint option), mints as a service account: fetchIdToken and IdTokenClient reach the service', async () => {
    // The library sends useEmailAzp with every generateIdToken; a body schema that refused it
    // failed every such call with 400.
    const sa = email('impersonated-bot')
    expect((await p.cli(['iam', 'service-accounts', 'create', 'impersonated-bot'])).code).toBe(0)
    await grantInvoker(sa)
    const r = await runNode<{ status: number; body: string; authorization: string; accessToken: string }>(IMPERSONATED, [p.controlUrl, await p.ownerToken(), sa, url, String(p.gatewayPort)])
    expect(claimsOf(r.authorization.replace(/^Bearer /, ''))).toMatchObject({ aud: url, sub: expect.any(String), azp: sa })
    expect(claimsOf(r.accessToken)).toMatchObject({ aud: p.controlUrl })
    expect(r.status, r.body).toBe(200)
    expect(JSON.parse(r.body).headers['x-postern-authenticated-principal']).toBe(`serviceAccount:${sa}`)
  })

  describe('the metadata server refuses what GCE’s refuses, never with a 5xx', () => {
    let host: string
    beforeAll(async () => {
      host = await metadataServer(`--impersonate-service-account ${email('keyless-bot')}`)
    })
    const get = async (path: string, headers: Record<string, string> = { 'metadata-flavor': 'Google' }) => {
      const res = await request(`http://${host}${path}`, { headers })
      return { status: res.statusCode, flavor: res.headers['metadata-flavor'], text: await res.body.text() }
    }
    const identity = '/computeMetadata/v1/instance/service-accounts/default/identity?audience=https://x.example&format=full'

    it.each<[string, () => Promise<{ status: number; flavor: unknown; text: string }>, number, RegExp]>([
      ['a request without Metadata-Flavor', () => get(identity, {}), 403, /Metadata-Flavor/],
      ['a request with Metadata-Flavor: google (wrong case of the value)', () => get(identity, { 'metadata-flavor': 'google' }), 403, /Metadata-Flavor/],
      ['a request through a proxy (X-Forwarded-For)', () => get(identity, { 'metadata-flavor': 'Google', 'x-forwarded-for': '10.0.0.1' }), 403, /X-Forwarded-For/],
      ['a page whose DNS name rebinds to 127.0.0.1 (another Host)', () => get(identity, { 'metadata-flavor': 'Google', host: 'evil.example:80' }), 403, /Host not allowed/],
      ['an identity request without an audience', () => get('/computeMetadata/v1/instance/service-accounts/default/identity'), 400, /audience/],
      ['another account than this machine’s', () => get('/computeMetadata/v1/instance/service-accounts/other@my-project.iam.postern.internal/email'), 404, /No service account/],
      ['an unknown path', () => get('/computeMetadata/v1/instance/zone'), 404, /Not found/],
      ['a path traversal', () => get('/computeMetadata/v1/instance/service-accounts/default/../../../../etc/passwd'), 404, /Not found/],
    ])('%s: %i', async (_what, send, status, words) => {
      const r = await send()
      expect(r.status).toBe(status)
      expect(r.text).toMatch(words)
      expect(r.flavor).toBe('Google')
    })

    it('answers the endpoints Google’s libraries read, each with Metadata-Flavor: Google', async () => {
      const sa = email('keyless-bot')
      expect(await get('/')).toMatchObject({ status: 200, flavor: 'Google', text: 'computeMetadata/\n' })
      expect((await get('/computeMetadata/v1/instance')).status).toBe(200)
      expect(await get('/computeMetadata/v1/project/project-id')).toMatchObject({ status: 200, text: 'my-project' })
      expect(await get('/computeMetadata/v1/instance/service-accounts/default/email')).toMatchObject({ status: 200, text: sa })
      expect(JSON.parse((await get('/computeMetadata/v1/instance/service-accounts/default/?recursive=true')).text)).toMatchObject({ aliases: ['default'], email: sa })
      const token = JSON.parse((await get(`/computeMetadata/v1/instance/service-accounts/${sa}/token`)).text)
      expect(token).toMatchObject({ token_type: 'Bearer' })
      expect(token.expires_in).toBeGreaterThan(3000)
      expect(token.expires_in).toBeLessThanOrEqual(3600)
      expect(JSON.parse(Buffer.from(token.access_token.split('.')[0], 'base64url').toString())).toMatchObject({ typ: 'at+jwt' })
      const id = await get(identity)
      expect(claimsOf(id.text)).toMatchObject({ aud: 'https://x.example', email: sa })
    })
  })

  describe('postern metadata-server refuses to start for an identity it cannot use', () => {
    it('a developer without token creator on the account: exit 1, naming the permission', async () => {
      await createUser(p, 'dev@example.com', 'dev-password-123')
      const dev = await signInUser(p, 'dev@example.com', 'dev-password-123')
      const r = await sh(`postern metadata-server --port 0 --impersonate-service-account ${email('keyless-bot')}`, { configDir: dev.configDir, binDir: bin })
      expect(r.code).toBe(1)
      expect(r.stderr).toContain('iam.serviceAccounts.getAccessToken')
    })

    it('both --key-file and --impersonate-service-account: usage error, exit 2', async () => {
      const r = await sh(`postern metadata-server --key-file k.json --impersonate-service-account ${email('keyless-bot')}`, { configDir: p.configDir, binDir: bin })
      expect(r.code).toBe(2)
    })
  })
})
