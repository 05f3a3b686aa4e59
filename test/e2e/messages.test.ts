import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { serverSigningKey, signRs256 } from '../support/forge.js'
import { startPostern, type PosternProcess } from '../support/server.js'
import { startUpstream } from '../support/upstream.js'

/** Messages that say what to do next, for what people actually type. */
describe('messages that say what to do next', () => {
  let p: PosternProcess
  let upstream: Awaited<ReturnType<typeof startUpstream>>
  let host: string
  // As `curl -H "Authorization: …" SERVICE_URL`: undici sends the service's Host, which Node's fetch will not.
  const curl = async (authorization: string) => {
    const r = await request(`http://127.0.0.1:${p.gatewayPort}/`, { headers: { host, authorization } })
    return { status: r.statusCode, challenge: String(r.headers['www-authenticate'] ?? ''), body: await r.body.text() }
  }

  beforeAll(async () => {
    upstream = await startUpstream()
    p = await startPostern()
    const r = await p.cli(['services', 'create', 'hello', `--upstream=${upstream.url}`, '--format=value(uri)'])
    expect(r.code, r.stderr).toBe(0)
    host = new URL(r.stdout.trim()).host
    expect((await p.cli(['users', 'create', 'ann@example.com'])).code).toBe(0)
  })
  afterAll(async () => {
    await p?.stop()
    await upstream?.close()
  })

  it('an expired token: get a new one with postern auth print-identity-token', async () => {
    const { kid, key } = serverSigningKey(p.dataDir)
    const now = Math.floor(Date.now() / 1000)
    const expired = signRs256({ alg: 'RS256', kid, typ: 'JWT' }, { iss: p.controlUrl, sub: 'x', aud: 'postern-cli', iat: now - 7200, exp: now - 3600 }, key)
    const r = await curl(`Bearer ${expired}`)
    expect(r.status).toBe(401)
    expect(r.challenge).toContain('The token has expired; get a new one: postern auth print-identity-token')
  })

  it('a garbage token: not a Postern ID token', async () => {
    for (const garbage of ['hello', 'not.a.token', 'eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJ4In0.c2ln']) {
      const r = await curl(`Bearer ${garbage}`)
      expect(r.status, garbage).toBe(401)
      expect(r.challenge, garbage).toContain('This is not a Postern ID token')
    }
  })

  it('a garbage token at the API: not a Postern access token (the API takes no ID tokens)', async () => {
    // google-auth 1.x pads its JWTs' base64: the message says what a token here looks like.
    const padded = 'eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJ4In0=.c2ln'
    const res = await fetch(`${p.controlUrl}/v1/projects`, { headers: { authorization: `Bearer ${padded}` } })
    expect(res.status).toBe(401)
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain('This is not a Postern access token (a JWT: three base64url parts, unpadded, separated by dots).')
  })

  it('--member=user:bob: an email address is needed after user:', async () => {
    // $ postern services add-iam-policy-binding hello --member=user:bob --role=roles/run.invoker
    const r = await p.cli(['services', 'add-iam-policy-binding', 'hello', '--member=user:bob', '--role=roles/run.invoker'])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain("Invalid member 'user:bob': an email address is needed after user:, e.g. user:bob@example.com.")
  })

  it('spaces around a member are trimmed by the CLI and named by the API', async () => {
    // $ postern services add-iam-policy-binding hello --member='user:ann@example.com ' --role=roles/run.invoker
    const r = await p.cli(['services', 'add-iam-policy-binding', 'hello', '--member=user:ann@example.com ', '--role= roles/run.invoker', '--format=value(bindings.members)'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toBe('user:ann@example.com\n')
    const api = await p.api('POST', '/v2/projects/my-project/services/hello:setIamPolicy', { policy: { bindings: [{ role: 'roles/run.viewer', members: ['user:ann@example.com '] }] } })
    expect(api.status).toBe(400)
    expect(JSON.stringify(api.body)).toContain('it has spaces at its start or end; remove them.')
  })

  it('service names: one rule, 2–50 characters, said the same way every time', async () => {
    for (const name of ['a', 'x'.repeat(51), 'Hello', 'hello-']) {
      // $ postern services create a --upstream=…
      const r = await p.cli(['services', 'create', name, `--upstream=${upstream.url}`])
      expect(r.code, name).toBe(1)
      expect(r.stderr).toContain('a service name has 2–50 characters: lowercase letters, digits and hyphens, starting with a letter and ending with a letter or digit.')
    }
    const two = await p.cli(['services', 'create', 'ab', `--upstream=${upstream.url}`])
    expect(two.code, two.stderr).toBe(0)
  })
})
