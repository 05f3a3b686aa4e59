import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { attackerKey, b64, serverSigningKey, signHs256, signRs256 } from '../support/forge.js'
import { rawGet } from '../support/raw-http.js'
import { eventually } from '../support/eventually.js'
import { DATA_PLANES, startPostern, type PosternProcess } from '../support/server.js'
import { createUser, signInUser } from '../support/sign-in.js'
import { startUpstream } from '../support/upstream.js'

/**
 * The token table: one forged or defective token per row, each must get 401 while the
 * valid token sent right after it gets 200 (a repeated token header is no token: 400, below). The verifier never fetches a URL a token names.
 */
describe.each(DATA_PLANES)('forged and defective tokens at the gateway (%s data plane)', (dataPlane) => {
  let p: PosternProcess
  let other: PosternProcess
  let upstream: Awaited<ReturnType<typeof startUpstream>>
  let attackerServer: Server
  let attackerHits = 0
  let attackerUrl: string
  let valid: string
  let host: string
  let strictHost: string

  beforeAll(async () => {
    upstream = await startUpstream()
    attackerServer = createServer((_req, res) => {
      attackerHits++
      res.end('{}')
    })
    await new Promise<void>((r) => attackerServer.listen(0, '127.0.0.1', r))
    attackerUrl = `http://127.0.0.1:${(attackerServer.address() as AddressInfo).port}/jwks`
    ;[p, other] = await Promise.all([startPostern({ dataPlane }), startPostern()])
    for (const [name, strict] of [['tokens', false], ['strict', true]] as const) {
      const r = await p.cli(['services', 'create', name, `--upstream=${upstream.url}`, ...(strict ? ['--strict-audience'] : [])])
      expect(r.code, r.stderr).toBe(0)
      expect((await p.cli(['services', 'add-iam-policy-binding', name, '--member=domain:example.com', '--role=roles/run.invoker'])).code).toBe(0)
    }
    host = `tokens.my-project.localhost:${p.gatewayPort}`
    strictHost = `strict.my-project.localhost:${p.gatewayPort}`
    await createUser(p, 'ann@example.com', 'ann-password-123')
    valid = (await signInUser(p, 'ann@example.com', 'ann-password-123')).idToken
  })
  afterAll(async () => {
    await Promise.all([p?.stop(), other?.stop(), upstream?.close()])
    attackerServer?.close()
  })

  const send = async (token: string | string[], h = host) => {
    const lines = (Array.isArray(token) ? token : [token]).map((t) => (t.includes(': ') ? t : `Authorization: Bearer ${t}`))
    return rawGet(p.gatewayPort, h, lines)
  }

  it('the valid token gets through', async () => {
    expect((await send(valid)).status).toBe(200)
    expect((await send(`authorization: bearer ${valid}`)).status).toBe(200)
  })

  it('another scheme than Bearer is no token at all: the challenge names no error (RFC 6750 §3.1); a defective Bearer one is invalid_token', async () => {
    const challenge = (head: string) => /^www-authenticate: (.*)$/im.exec(head)?.[1]
    const basic = await send(['Authorization: Basic YW5uOnB3'])
    expect(basic.status).toBe(401)
    expect(challenge(basic.head)).toBe('Bearer realm="postern"')
    const junk = await send([`Authorization: Bearer ${valid} junk`])
    expect(junk.status).toBe(401)
    expect(challenge(junk.head)).toMatch(/^Bearer realm="postern", error="invalid_token"/)
  })

  it('every forged or defective token gets 401, with a valid token 200 right next to it', async () => {
    const key = serverSigningKey(p.dataDir)
    const [h, payloadPart, sig] = valid.split('.') as [string, string, string]
    const claims = JSON.parse(Buffer.from(payloadPart, 'base64url').toString()) as Record<string, unknown>
    const header = { alg: 'RS256', kid: key.kid, typ: 'JWT' }
    const now = Math.floor(Date.now() / 1000)
    const withClaims = (patch: Record<string, unknown>) => signRs256(header, { ...claims, ...patch }, key.key)
    const attacker = attackerKey()
    const otherToken = await other.ownerIdToken()

    const deletedUser = await (async () => {
      await createUser(p, 'gone@example.com', 'gone-password-1')
      const t = (await signInUser(p, 'gone@example.com', 'gone-password-1')).idToken
      expect((await p.cli(['users', 'delete', 'gone@example.com'])).code).toBe(0)
      return t
    })()
    const disabledSa = await (async () => {
      const sa = JSON.parse((await p.cli(['iam', 'service-accounts', 'create', 'robot-one', '--format=json'])).stdout).email as string
      expect((await p.cli(['services', 'add-iam-policy-binding', 'tokens', `--member=serviceAccount:${sa}`, '--role=roles/run.invoker'])).code).toBe(0)
      expect((await p.cli(['iam', 'service-accounts', 'add-iam-policy-binding', sa, '--member=user:owner@example.com', '--role=roles/iam.serviceAccountTokenCreator'])).code).toBe(0)
      const t = (await p.cli(['auth', 'print-identity-token', '--impersonate-service-account', sa, '--audiences', `http://${host}`])).stdout.trim()
      expect((await send(t)).status).toBe(200) // works before it is disabled
      expect((await p.cli(['iam', 'service-accounts', 'disable', sa])).code).toBe(0)
      // At once on the Node gateway; the nginx plane may reuse the verdict it just got for up to half a second.
      if (dataPlane === 'node') expect((await send(t)).status).toBe(401)
      else await eventually(1_000, async () => (await send(t)).status === 401, 'the disabled account refused within a second', 100)
      return t
    })()

    const table: [string, string | string[], string?][] = [
      ['alg none', `${b64(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${payloadPart}.`],
      ['alg none with a signature', `${b64(JSON.stringify({ alg: 'none' }))}.${payloadPart}.${sig}`],
      ['alg None', `${b64(JSON.stringify({ alg: 'None', kid: key.kid }))}.${payloadPart}.${sig}`],
      ['alg NONE', `${b64(JSON.stringify({ alg: 'NONE', kid: key.kid }))}.${payloadPart}.${sig}`],
      ['alg nOnE', `${b64(JSON.stringify({ alg: 'nOnE', kid: key.kid }))}.${payloadPart}.${sig}`],
      ['HS256 signed with the public key', signHs256({ alg: 'HS256', kid: key.kid, typ: 'JWT' }, claims, key.publicPem)],
      ['RS512 label on an RS256 signature', `${b64(JSON.stringify({ ...header, alg: 'RS512' }))}.${payloadPart}.${sig}`],
      ['unknown kid', signRs256({ ...header, kid: 'not-a-key' }, claims, attacker.privateKey)],
      ['jwk header with the attacker key', signRs256({ ...header, kid: 'x', jwk: attacker.jwk }, claims, attacker.privateKey)],
      ['jwk header naming our kid', signRs256({ ...header, jwk: attacker.jwk }, claims, attacker.privateKey)],
      ['jku header at the attacker', signRs256({ ...header, kid: 'evil', jku: attackerUrl }, claims, attacker.privateKey)],
      ['x5u header at the attacker', signRs256({ ...header, kid: 'evil', x5u: attackerUrl }, claims, attacker.privateKey)],
      ['x5c header', signRs256({ ...header, x5c: ['MIIB'] }, claims, attacker.privateKey)],
      ['stripped signature', `${h}.${payloadPart}.`],
      ['altered signature', `${h}.${payloadPart}.${sig.slice(0, -4)}${sig.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`],
      ['altered payload', `${h}.${b64(JSON.stringify({ ...claims, email: 'owner@example.com' }))}.${sig}`],
      ['expired', withClaims({ iat: now - 7200, exp: now - 3600 })],
      ['nbf in the future', withClaims({ nbf: now + 3600 })],
      ['iat in the future', withClaims({ iat: now + 3600, exp: now + 7200 })],
      ['wrong iss', withClaims({ iss: 'https://evil.example.com' })],
      ['another issuer’s token', otherToken],
      ['typ at+jwt', signRs256({ ...header, typ: 'at+jwt' }, claims, key.key)],
      ['exp 1e400', signRs256(header, JSON.stringify({ ...claims, exp: 0 }).replace('"exp":0', '"exp":1e400'), key.key)],
      ['exp a string', withClaims({ exp: String(now + 3600) })],
      ['lifetime over 24 h', withClaims({ iat: now, exp: now + 25 * 3600 })],
      ['no sub', withClaims({ sub: undefined })],
      ['a crit header', signRs256({ ...header, crit: ['exp'] }, claims, key.key)],
      ['non-canonical base64url', `${h}.${payloadPart}.${sig.slice(0, -1)}${String.fromCharCode(sig.charCodeAt(sig.length - 1) ^ 1)}`],
      ['trailing junk', `${valid}.extra`],
      // Lenient base64 is for jwt-bearer assertions from Google's libraries only, never Postern's own tokens.
      ['base64 padding on the signature', `${valid}==`],
      ['junk after a space', [`Authorization: Bearer ${valid} junk`]],
      ['a deleted user’s token', deletedUser],
      ['a disabled service account’s token', disabledSa],
      ['Basic scheme', [`Authorization: Basic ${b64('ann:pw')}`]],
      ['garbage', 'garbage'],
      ['empty bearer', ['Authorization: Bearer ']],
      ['100 KB token', `${h}.${'A'.repeat(100 * 1024)}.${sig}`],
      ['a bad X-Serverless-Authorization beside a valid Authorization', [`Authorization: Bearer ${valid}`, 'X-Serverless-Authorization: Bearer x.y.z']],
      ['wrong audience on a strict service', valid, strictHost],
    ]
    expect(table.length).toBeGreaterThanOrEqual(30)
    const failures: string[] = []
    for (const [name, token, onHost] of table) {
      const bad = await send(token, onHost ?? host)
      const good = await send(valid)
      if (bad.status !== 401) failures.push(`${name}: ${bad.status} ${bad.body.slice(0, 200)}`)
      if (good.status !== 200) failures.push(`valid token after ${name}: ${good.status}`)
      if (bad.status === 401 && !/www-authenticate: Bearer realm="postern"/i.test(bad.head)) failures.push(`${name}: no challenge`)
    }
    expect(failures).toEqual([])
    expect(attackerHits).toBe(0)
  }, 120_000)

  it('a repeated token header is a malformed request: 400 invalid_request (RFC 6750 §3.1), the same bytes that matter on both planes', async () => {
    const answer = (header: string) => {
      const message = `The request has more than one ${header} header; send the token in one.`
      return { message, challenge: `Bearer realm="postern", error="invalid_request", error_description="${message}"` }
    }
    const cases: [string, string[], string, string?][] = [
      ['two Authorization headers', [`Authorization: Bearer ${valid}`, `Authorization: Bearer ${valid}`], 'Authorization'],
      ['two Authorization headers, the second not a token', [`Authorization: Bearer ${valid}`, 'authorization: Basic YTpi'], 'Authorization'],
      ['two X-Serverless-Authorization headers', [`X-Serverless-Authorization: Bearer ${valid}`, `x-serverless-authorization: Bearer ${valid}`], 'X-Serverless-Authorization'],
      ['one X-Serverless-Authorization, two Authorization', [`X-Serverless-Authorization: Bearer ${valid}`, `Authorization: Bearer ${valid}`, 'Authorization: Basic YTpi'], 'Authorization'],
      // Refused before the request is routed, as nginx refuses it before any Lua runs.
      ['two Authorization headers to a host that is no service', [`Authorization: Bearer ${valid}`, `Authorization: Bearer ${valid}`], 'Authorization', `nothing.my-project.localhost:${p.gatewayPort}`],
    ]
    const failures: string[] = []
    for (const [name, lines, header, onHost] of cases) {
      const r = await rawGet(p.gatewayPort, onHost ?? host, lines)
      const expected = answer(header)
      const challenge = /^www-authenticate: (.*)$/im.exec(r.head)?.[1]
      let body: unknown
      try {
        body = JSON.parse(r.body)
      } catch {
        body = r.body
      }
      if (r.status !== 400) failures.push(`${name}: status ${r.status}`)
      if (challenge !== expected.challenge) failures.push(`${name}: WWW-Authenticate ${challenge}`)
      if (JSON.stringify(body) !== JSON.stringify({ error: { code: 400, status: 'INVALID_ARGUMENT', message: expected.message } })) failures.push(`${name}: body ${r.body.slice(0, 300)}`)
      if (!/^content-type: application\/json; charset=utf-8$/im.test(r.head)) failures.push(`${name}: not JSON`)
    }
    expect(failures).toEqual([])
    // The same token, sent once in each header, still gets through.
    expect((await send(valid)).status).toBe(200)
    expect((await send([`X-Serverless-Authorization: Bearer ${valid}`])).status).toBe(200)
  })

  it('a strict service accepts a token whose audience is its URL, with or without one trailing slash', async () => {
    const url = `http://${strictHost}`
    for (const aud of [url, `${url}/`]) {
      const r = await p.cli(['auth', 'print-identity-token', '--audiences', aud])
      expect(r.code, r.stderr).toBe(0)
      // owner@example.com is in domain:example.com, which holds the invoker role.
      expect((await send(r.stdout.trim(), strictHost)).status).toBe(200)
    }
    const elsewhere = await p.cli(['auth', 'print-identity-token', '--audiences', `${url}//`])
    expect((await send(elsewhere.stdout.trim(), strictHost)).status).toBe(401)
  })

  it('a token for another audience (a service’s name given for its URL, say) is refused with the command that gets the right one', async () => {
    // $ curl -H "Authorization: Bearer $(postern auth print-identity-token --audiences tokens)" SERVICE_URL
    const named = await p.cli(['auth', 'print-identity-token', '--audiences', 'tokens'])
    expect(named.code, named.stderr).toBe(0)
    const r = await send(named.stdout.trim())
    expect(r.status).toBe(401)
    expect(JSON.parse(r.body).error.message).toBe(`Invalid ID token: The token's audience is not this service (http://${host}); get one for it with: postern auth print-identity-token --audiences http://${host}`)
  })
})
