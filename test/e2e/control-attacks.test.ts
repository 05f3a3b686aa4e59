import { readFileSync } from 'node:fs'
import { connect } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { converse, framedStatuses } from '../support/raw-http.js'
import { startPostern, type PosternProcess } from '../support/server.js'
import { createUser, signInUser } from '../support/sign-in.js'

/**
 * What a probe of the control plane with an attacker's requests found (2026-12-03), each now
 * answered as a careful server answers it: no work done for a caller who may not ask for it, no
 * 5xx for a name Object.prototype happens to hold, no JSON read two ways, the same audience rule
 * wherever a token is minted.
 */
describe('the control plane under an attacker’s requests', () => {
  let p: PosternProcess
  let owner: string
  let nobody: string
  const sa = 'minter@my-project.iam.postern.internal'
  beforeAll(async () => {
    p = await startPostern()
    owner = await p.ownerToken()
    await createUser(p, 'nobody@example.com', 'nobody-password-1')
    nobody = (await signInUser(p, 'nobody@example.com', 'nobody-password-1')).accessToken
    expect((await p.cli(['iam', 'service-accounts', 'create', 'minter'])).code).toBe(0)
    expect((await p.cli(['services', 'create', 'target', '--upstream', 'http://127.0.0.1:9000'])).code).toBe(0)
  })
  afterAll(() => p?.stop())

  const call = async (token: string, method: string, path: string, body: unknown) => {
    const res = await fetch(p.controlUrl + path, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) })
    return { status: res.status, body: (await res.json()) as { error?: { status: string; message: string } } }
  }

  it('a caller without the permission is refused a service-account key before an RSA key is made for it: 20 refusals cost what 20 other refusals do', async () => {
    // CPU the server process has used, in clock ticks (utime + stime, proc(5)): not a timing, a count of work done.
    const ticks = () => {
      const fields = readFileSync(`/proc/${p.pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
      return Number(fields[11]) + Number(fields[12])
    }
    const refusedTwenty = async (path: string) => {
      const before = ticks()
      for (let i = 0; i < 20; i++) expect((await call(nobody, 'POST', path, {})).status).toBe(403)
      return ticks() - before
    }
    const disable = await refusedTwenty(`/v1/projects/my-project/serviceAccounts/${sa}:disable`)
    const keys = await refusedTwenty(`/v1/projects/my-project/serviceAccounts/${sa}/keys`)
    // Each RSA-2048 key is ~100 ms of CPU (10 ticks): made for every refusal, 20 cost ~200 ticks.
    expect(keys, `keys: ${keys} ticks, disable: ${disable}`).toBeLessThan(disable * 3 + 40)
    expect((await call(owner, 'POST', `/v1/projects/my-project/serviceAccounts/${sa}/keys`, {})).status).toBe(200)
  })

  it("a caller without the permission is refused before a password is looked at, so scrypt's work is no one's to ask for", async () => {
    // A password too short to hash: the answer says which check came first.
    const setOthers = await call(nobody, 'POST', '/v1/users/owner@example.com:setPassword', { password: 'x' })
    expect(setOthers.status).toBe(403)
    expect(setOthers.body.error?.message).toContain("'postern.users.update'")
    const create = await call(nobody, 'POST', '/v1/users', { email: 'new@example.com', password: 'x' })
    expect(create.status).toBe(403)
    expect(create.body.error?.message).toContain("'postern.users.create'")
    // Allowed callers still get the password rules, and changing one's own password still works.
    expect((await call(owner, 'POST', '/v1/users', { email: 'new@example.com', password: 'x' })).body.error?.message).toContain('at least 8')
    expect((await call(nobody, 'POST', '/v1/users/nobody@example.com:setPassword', { password: 'y', currentPassword: 'nobody-password-1' })).body.error?.message).toContain('at least 8')
    expect((await call(nobody, 'POST', '/v1/users/nobody@example.com:setPassword', { password: 'nobody-password-2', currentPassword: 'nobody-password-1' })).status).toBe(200)
  })

  it("grant_type names Object.prototype holds are unsupported grants, not a 500 or an empty 200", async () => {
    for (const type of ['__proto__', 'valueOf', 'hasOwnProperty', 'constructor', 'toString']) {
      const res = await fetch(`${p.controlUrl}/oauth2/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `grant_type=${type}` })
      expect(res.status, type).toBe(400)
      expect(await res.json()).toEqual({ error: 'unsupported_grant_type', error_description: `grant_type '${type}' is not supported.` })
    }
  })

  it('a JSON body holding a key twice in one object is refused, not read as its last (a policy of "bindings": [] applied as allUsers)', async () => {
    const policy = '{"policy":{"bindings":[],"\\u0062indings":[{"role":"roles/run.invoker","members":["allUsers"]}]}}'
    const r = await call(owner, 'POST', '/v2/projects/my-project/services/target:setIamPolicy', policy)
    expect(r.status).toBe(400)
    expect(r.body.error?.message).toBe("The request body holds the key 'bindings' twice in one object; each key may appear once.")
    const after = await call(owner, 'POST', '/v2/projects/my-project/services/target:getIamPolicy', {})
    expect(JSON.stringify(after.body)).not.toContain('allUsers')
  })

  it('HEAD is answered wherever GET is (health, discovery, keys), without a body', async () => {
    for (const path of ['/healthz', '/.well-known/openid-configuration', '/oauth2/jwks']) {
      const get = await fetch(p.controlUrl + path)
      const head = await fetch(p.controlUrl + path, { method: 'HEAD' })
      expect(head.status, path).toBe(get.status)
      expect(head.headers.get('content-type')).toBe(get.headers.get('content-type'))
      expect(await head.text()).toBe('')
    }
  })

  it('two Authorization headers are a malformed request (400 invalid_request, RFC 6750 §3.1), as at the gateway, not read as the first', async () => {
    const answer = await rawRequest(p.controlPort, `GET /v1/projects HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${owner}\r\nAuthorization: Bearer garbage\r\nConnection: close\r\n\r\n`)
    expect(answer).toMatch(/^HTTP\/1\.1 400 /)
    const message = 'The request has more than one Authorization header; send the token in one.'
    expect(answer).toContain(`\r\nwww-authenticate: Bearer realm="postern", error="invalid_request", error_description="${message}"\r\n`)
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toEqual({ error: { code: 400, status: 'INVALID_ARGUMENT', message } })
  })

  it('an HTTP/1.1 request without Host gets the one error shape, not Node\'s bare 400', async () => {
    const answer = await rawRequest(p.controlPort, 'GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n')
    expect(answer).toMatch(/^HTTP\/1\.1 400 /)
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toMatchObject({ error: { code: 400, status: 'INVALID_ARGUMENT', message: 'The request has no Host header.' } })
  })

  it('an absolute-form target naming this Host is served as its path (RFC 9112 §3.2.2); one naming another host is refused', async () => {
    const host = `127.0.0.1:${p.controlPort}`
    const bodyOf = (answer: string) => JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as Record<string, unknown>
    const served = await rawRequest(p.controlPort, `GET http://${host}/v1/projects?pageSize=1 HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${owner}\r\nConnection: close\r\n\r\n`)
    expect(served, served.slice(0, 300)).toMatch(/^HTTP\/1\.1 200 /)
    expect(bodyOf(served)).toHaveProperty('projects')
    const discovery = await rawRequest(p.controlPort, `GET HTTP://${host}/.well-known/openid-configuration HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`)
    expect(discovery).toMatch(/^HTTP\/1\.1 200 /)
    const other = await rawRequest(p.controlPort, `GET http://evil.example/healthz HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`)
    expect(other).toMatch(/^HTTP\/1\.1 400 /)
    expect(bodyOf(other)).toMatchObject({ error: { status: 'INVALID_ARGUMENT', message: 'The request target names another host than the Host header.' } })
  })

  it("discovery's claims_supported names every claim userinfo and the owner's ID token carry", async () => {
    const discovery = (await (await fetch(`${p.controlUrl}/.well-known/openid-configuration`)).json()) as { claims_supported: string[] }
    const userinfo = (await (await fetch(`${p.controlUrl}/oauth2/userinfo`, { headers: { authorization: `Bearer ${owner}` } })).json()) as Record<string, unknown>
    const idToken = JSON.parse(Buffer.from((await p.ownerIdToken()).split('.')[1]!, 'base64url').toString()) as Record<string, unknown>
    expect(Object.keys(userinfo)).toContain('principal')
    for (const claim of [...Object.keys(userinfo), ...Object.keys(idToken)]) expect(discovery.claims_supported, claim).toContain(claim)
  })

  // Node's parser reads a request line without a version as HTTP/0.9, with headers after it and
  // any method; after a PRI it ends the connection before an answer that is not given at once.
  it('a request line without a version (HTTP/0.9) is refused in the one error shape, whatever its method', async () => {
    for (const method of ['GET', 'PRI', 'POST']) {
      for (const head of ['Host: 127.0.0.1\r\n', '']) {
        const answer = await rawRequest(p.controlPort, `${method} /healthz\r\n${head}\r\n`)
        expect(answer, `${method} ${head}`).toMatch(/^HTTP\/1\.1 400 /)
        expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toMatchObject({ error: { code: 400, status: 'INVALID_ARGUMENT', message: expect.stringContaining('HTTP/0.9') } })
      }
    }
  })

  it('a CONNECT pipelined behind requests, refused or not, is answered after them; one behind a malformed body is not read, and the control plane stays up', async () => {
    const connectRequest = 'CONNECT /v1/projects HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'
    const listing = `GET /v1/projects/my-project HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${owner}\r\n\r\n`
    const refused = 'POST /v1/projects HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer garbage\r\nTransfer-Encoding: chunked\r\n\r\n8\r\nsmuggled\r\n0\r\n\r\n'
    const brokenBody = `POST /oauth2/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n`
    const answered = (packets: string[], count: number) => converse(p.controlPort, packets.map((b) => Buffer.from(b)), (read) => framedStatuses(read).length >= count).then(framedStatuses)
    for (let i = 0; i < 3; i++) {
      expect(await answered([listing + listing + connectRequest], 3)).toEqual([200, 200, 405])
      // (Asked for two: the connection must end after the one.)
      expect(await answered([brokenBody, connectRequest], 2)).toEqual([400])
      expect(await answered([refused.slice(0, 60), refused.slice(60) + connectRequest], 2)).toEqual([401, 405])
      expect((await fetch(`${p.controlUrl}/healthz`)).status).toBe(200)
    }
  })

  it('generateIdToken keeps to the audience rule of the token endpoint: no whitespace or control character', async () => {
    const path = `/v1/projects/-/serviceAccounts/${sa}:generateIdToken`
    for (const audience of ['\u0000', 'a b', 'https://a.example\nSet-Cookie: x', 'x'.repeat(2049)]) {
      const r = await call(owner, 'POST', path, { audience })
      expect(r.status, JSON.stringify(audience)).toBe(400)
      expect(r.body.error?.message).toContain('audience')
    }
    expect((await call(owner, 'POST', path, { audience: 'https://api.example' })).status).toBe(200)
  })
})

/** Sends bytes as written (fetch joins repeated headers into one) and reads the answer until the server closes. */
function rawRequest(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(bytes))
    let answer = ''
    socket.on('data', (d: Buffer) => (answer += d.toString('latin1')))
    socket.on('error', reject)
    socket.on('close', () => resolve(answer))
  })
}
