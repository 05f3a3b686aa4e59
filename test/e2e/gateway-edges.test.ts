import type { ChildProcess } from 'node:child_process'
import { createServer, type Server } from 'node:http'
import { connect, type AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { request } from 'undici'
import WebSocket from 'ws'
import { b64 } from '../support/forge.js'
import { bigHeaders, h2Ask } from '../support/h2-ask.js'
import { rawGet, rawRequest } from '../support/raw-http.js'
import { DATA_PLANES, startPostern, type PosternProcess } from '../support/server.js'
import { startServicesProxy } from '../support/services-proxy.js'
import { createUser, signInUser } from '../support/sign-in.js'
import { startUpstream } from '../support/upstream.js'
import { startPhpUpstream } from '../support/php-upstream.js'
import { startWsgiUpstream } from '../support/wsgi-upstream.js'

/**
 * What reaches an upstream at the gateway's edges: never a token it could replay, on any kind of
 * service; never a header that poses as Postern's or as a proxy's.
 */
describe.each(DATA_PLANES)('the gateway at its edges (%s data plane)', (dataPlane) => {
  let p: PosternProcess
  let upstream: Awaited<ReturnType<typeof startUpstream>>
  let wsgi: Awaited<ReturnType<typeof startWsgiUpstream>>
  let php: Awaited<ReturnType<typeof startPhpUpstream>>
  /** A plain HTTP server with no idea of Upgrade: it answers 200 and keeps the connection alive. */
  let plain: Server
  const plainSeen: string[] = []
  let owner: string
  let ownerId: string
  let ann: string
  const tokens: Record<string, string> = {}
  const host = (service: string) => `${service}.my-project.localhost:${p.gatewayPort}`
  const gw = (service: string, path: string, headers: Record<string, string | string[]> = {}) =>
    request(`http://127.0.0.1:${p.gatewayPort}${path}`, { headers: { host: host(service), ...headers } })
  /** Another issuer's JWT (an app's own): passes untouched. */
  /** ann's token's header and claims, made the owner's: what a caller can write of a Postern token without its key. */
  const forgedOwner = () => `${ann.split('.')[0]}.${b64(JSON.stringify({ ...(JSON.parse(Buffer.from(ann.split('.')[1]!, 'base64url').toString()) as object), sub: 'owner', email: 'owner@example.com' }))}`
  const foreignJwt = `${b64(JSON.stringify({ alg: 'RS256', typ: 'JWT' }))}.${b64(JSON.stringify({ iss: 'https://accounts.example.com', sub: 'x', aud: 'app' }))}.${b64('signature-bytes')}`

  beforeAll(async () => {
    ;[upstream, wsgi, php, p] = await Promise.all([startUpstream(), startWsgiUpstream(), startPhpUpstream(), startPostern({ dataPlane })])
    plain = createServer((req, res) => {
      plainSeen.push(req.url!)
      req.resume()
      // An app (or an attacker's service) trying to plant or replace the console's session.
      res.setHeader('set-cookie', ['app=1; Path=/', '__Host-postern_session=planted; Path=/; Secure', 'postern_session=planted; Domain=localhost', '__Secure-postern_signin=x'])
      res.end('plain answer')
    })
    await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r))
    // Grants name accounts that exist.
    for (const who of ['ann', 'bob', 'carol', 'dave']) await createUser(p, `${who}@example.com`, `${who}-password-123`)
    for (const args of [
      ['services', 'create', 'plain', `--upstream=http://127.0.0.1:${(plain.address() as AddressInfo).port}`],
      ['services', 'add-iam-policy-binding', 'plain', '--member=user:ann@example.com', '--role=roles/run.invoker'],
      ['services', 'create', 'sockets', `--upstream=${upstream.url}`],
      ...['ann', 'bob', 'carol', 'dave'].map((who) => ['services', 'add-iam-policy-binding', 'sockets', `--member=user:${who}@example.com`, '--role=roles/run.invoker']),
      ['services', 'create', 'turns', `--upstream=${upstream.url}`, '--allow-unauthenticated'],
      ['services', 'create', 'private', `--upstream=${upstream.url}`],
      ['services', 'create', 'pub', `--upstream=${upstream.url}`, '--allow-unauthenticated'],
      ['services', 'create', 'open', `--upstream=${upstream.url}`, '--no-invoker-iam-check'],
      ['services', 'create', 'wsgi', `--upstream=${wsgi.url}`],
      ['services', 'create', 'php', `--upstream=${php.url}`],
      ['services', 'create', 'php-public', `--upstream=${php.url}`, '--allow-unauthenticated'],
      ['services', 'add-iam-policy-binding', 'php', '--member=user:ann@example.com', '--role=roles/run.invoker'],
      ['services', 'add-iam-policy-binding', 'private', '--member=user:ann@example.com', '--role=roles/run.invoker'],
      ['services', 'add-iam-policy-binding', 'wsgi', '--member=user:ann@example.com', '--role=roles/run.invoker'],
    ]) {
      const r = await p.cli(args)
      expect(r.code, r.stderr).toBe(0)
    }
    for (const who of ['ann', 'bob', 'carol', 'dave']) tokens[who] = (await signInUser(p, `${who}@example.com`, `${who}-password-123`)).idToken
    ann = tokens.ann!
    owner = await p.ownerToken()
    ownerId = await p.ownerIdToken()
  })
  afterAll(async () => {
    plain?.closeAllConnections()
    plain?.close()
    await Promise.all([p?.stop(), upstream?.close(), wsgi?.close(), php?.close()])
  })

  describe('no upstream receives a verifiable Postern token', () => {
    it('the verified token arrives without its signature and works nowhere', async () => {
      expect((await p.api('GET', '/v1/users', undefined, owner)).status).toBe(200)
      const res = await gw('private', '/echo', { authorization: `Bearer ${ownerId}` })
      expect(res.statusCode).toBe(200)
      await res.body.dump()
      const seen = String(upstream.seen.at(-1)!.headers.authorization)
      expect(seen).toBe(`Bearer ${ownerId.slice(0, ownerId.lastIndexOf('.'))}.SIGNATURE_REMOVED_BY_POSTERN`)
      // What the upstream holds is worth nothing at the control API, nor at the gateway.
      expect((await p.api('GET', '/v1/users', undefined, seen.slice(7))).status).toBe(401)
      expect((await gw('private', '/echo', { authorization: seen })).statusCode).toBe(401)
    })

    // Postern verifies no token for a public service: a Postern token there would reach the app
    // looking as verified as the one a private service receives.
    it.each(['pub', 'open'])('%s: a Postern token (an ID token, an API access token by mistake) does not arrive at all', async (service) => {
      for (const token of [ownerId, owner]) {
        const res = await gw(service, '/echo', { authorization: `Bearer ${token}` })
        expect(res.statusCode).toBe(200)
        await res.body.dump()
        expect(upstream.seen.at(-1)!.headers.authorization).toBeUndefined()
      }
    })

    it('a public service gets the app’s own Authorization untouched, and no X-Serverless-Authorization holding a Postern token', async () => {
      for (const own of ['Basic YWxhZGRpbjpvcGVuc2VzYW1l', `Bearer ${foreignJwt}`]) {
        const res = await gw('pub', '/echo', { authorization: own, 'x-serverless-authorization': `Bearer ${ann}` })
        expect(res.statusCode).toBe(200)
        await res.body.dump()
        const seen = upstream.seen.at(-1)!.headers
        expect(seen.authorization).toBe(own)
        expect(seen['x-serverless-authorization']).toBeUndefined()
      }
    })

    it('a private service gets the app’s own Authorization untouched beside the verified X-Serverless-Authorization', async () => {
      const res = await gw('private', '/echo', { authorization: `Bearer ${foreignJwt}`, 'x-serverless-authorization': `Bearer ${ann}` })
      expect(res.statusCode).toBe(200)
      await res.body.dump()
      const seen = upstream.seen.at(-1)!.headers
      expect(seen.authorization).toBe(`Bearer ${foreignJwt}`)
      expect(seen['x-serverless-authorization']).toMatch(/SIGNATURE_REMOVED_BY_POSTERN$/)
    })

    it('a Postern token anywhere in a token header Postern did not verify drops it: several values, auth-params, padding', async () => {
      const [h, payload] = ann.split('.') as [string, string]
      // A repeated Authorization header is refused (400, on both planes, public services too):
      // several values share one line.
      const several = [`Bearer ${ann}`, `Custom token="${ann}", other="${foreignJwt}"`]
      const repeated = await gw('pub', '/echo', { authorization: several })
      expect(repeated.statusCode).toBe(400)
      await repeated.body.dump()
      const res = await gw('pub', '/echo', {
        authorization: several.join(', '),
        'x-serverless-authorization': `Bearer ${h}.${payload}==.${ann.split('.')[2]}`,
      })
      expect(res.statusCode).toBe(200)
      await res.body.dump()
      const seen = upstream.seen.at(-1)!
      const values = seen.rawHeaders.flatMap((v, i) => (i % 2 === 1 && /authorization/i.test(seen.rawHeaders[i - 1]!) ? [v] : []))
      expect(values).toEqual([])
    })

    it('a WebSocket to a public service gets no Postern token', async () => {
      const ws = new WebSocket(`ws://127.0.0.1:${p.gatewayPort}/socket`, { headers: { host: host('pub'), authorization: `Bearer ${ann}` } })
      await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject))
      ws.close()
      const seen = upstream.seen.at(-1)!
      expect(seen.url).toBe('/socket')
      expect(seen.headers.authorization).toBeUndefined()
    })

    // A token of Postern's own making beside the verified one (the owner's claims, a signature of
    // nothing, or Postern's mark written by the caller): only the verified header carries the mark.
    // (X-Serverless-Authorization is the one verified when both are sent; a public service verifies neither: above.)
    it.each([
      ['a forged signature', 'AAAA'],
      ['Postern’s mark', 'SIGNATURE_REMOVED_BY_POSTERN'],
    ])('beside the verified X-Serverless-Authorization, an Authorization holding a Postern token (%s) is dropped', async (_, signature) => {
      const res = await gw('private', '/echo', { 'x-serverless-authorization': `Bearer ${ann}`, authorization: `Bearer ${forgedOwner()}.${signature}` })
      expect(res.statusCode).toBe(200)
      await res.body.dump()
      const seen = upstream.seen.at(-1)!.headers
      expect(seen['x-serverless-authorization']).toBe(`Bearer ${ann.slice(0, ann.lastIndexOf('.'))}.SIGNATURE_REMOVED_BY_POSTERN`)
      expect(seen.authorization).toBeUndefined()
    })
  })

  describe('upgraded connections', () => {
    it('an upstream that answers an Upgrade with 200 gets no tunnel: the answer is relayed, the connection closed', async () => {
      const socket = connect(p.gatewayPort, '127.0.0.1')
      let received = ''
      socket.on('data', (d: Buffer) => (received += d.toString('latin1')))
      const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()))
      socket.on('error', () => undefined)
      socket.write(`GET /first HTTP/1.1\r\nHost: ${host('plain')}\r\nAuthorization: Bearer ${ann}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n`)
      await expect.poll(() => received, { timeout: 5_000 }).toContain('plain answer')
      // A second request on the same socket, with no token and a spoofed identity: it must never reach the upstream.
      if (socket.writable) socket.write(`GET /second HTTP/1.1\r\nHost: ${host('plain')}\r\nX-Postern-Authenticated-Email: owner@example.com\r\n\r\n`)
      await Promise.race([ended, new Promise((r) => setTimeout(r, 1_000))])
      expect(received).toMatch(/^HTTP\/1\.1 200 /)
      expect(received.toLowerCase()).toContain('connection: close')
      expect(plainSeen).toContain('/first')
      expect(plainSeen).not.toContain('/second')
      expect(socket.destroyed || socket.readableEnded).toBe(true)
      socket.destroy()
    })

    it('an Upgrade request that carries a body is refused', async () => {
      const r = await new Promise<string>((resolve) => {
        const socket = connect(p.gatewayPort, '127.0.0.1')
        let data = ''
        socket.on('data', (d: Buffer) => (data += d.toString('latin1')))
        socket.on('close', () => resolve(data))
        socket.write(`POST /x HTTP/1.1\r\nHost: ${host('plain')}\r\nAuthorization: Bearer ${ann}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: 5\r\n\r\nhello`)
      })
      expect(r).toMatch(/^HTTP\/1\.1 400 /)
    })

    const open = async (service: string, token?: string) => {
      const ws = new WebSocket(`ws://127.0.0.1:${p.gatewayPort}/live`, { headers: { host: host(service), ...(token && { authorization: `Bearer ${token}` }) } })
      await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject))
      const closed = new Promise<number>((resolve) => ws.once('close', () => resolve(Date.now())))
      return { ws, closed }
    }
    /** Milliseconds from the end of the command to the socket's close, or Infinity if it stays open 3 s. */
    const closesWithin = async (closed: Promise<number>, change: () => Promise<{ code: number; stderr: string }>) => {
      const r = await change()
      expect(r.code, r.stderr).toBe(0)
      const done = Date.now()
      const at = await Promise.race([closed, new Promise<number>((resolve) => setTimeout(() => resolve(Infinity), 3_000))])
      return at - done
    }

    it('a WebSocket is closed within a second of its caller being disabled, deleted or losing the grant; others stay open', async () => {
      const keeps = await open('sockets', tokens.dave)
      const ownerSocket = await open('sockets', ownerId)
      const bob = await open('sockets', tokens.bob)
      expect(await closesWithin(bob.closed, () => p.cli(['users', 'disable', 'bob@example.com']))).toBeLessThanOrEqual(1_000)
      const carol = await open('sockets', tokens.carol)
      expect(await closesWithin(carol.closed, () => p.cli(['users', 'delete', 'carol@example.com', '--quiet']))).toBeLessThanOrEqual(1_000)
      const annSocket = await open('sockets', ann)
      expect(await closesWithin(annSocket.closed, () => p.cli(['services', 'remove-iam-policy-binding', 'sockets', '--member=user:ann@example.com', '--role=roles/run.invoker']))).toBeLessThanOrEqual(1_000)
      // The callers who kept access still talk.
      for (const { ws } of [keeps, ownerSocket]) {
        expect(ws.readyState).toBe(WebSocket.OPEN)
        const echo = new Promise((resolve) => ws.once('message', (d) => resolve(String(d))))
        ws.send('still here')
        expect(await echo).toBe('still here')
        ws.close()
      }
    })

    it('an anonymous WebSocket to a public service is closed within a second of the service turning private', async () => {
      const anonymous = await open('turns')
      expect(await closesWithin(anonymous.closed, () => p.cli(['services', 'update', 'turns', '--no-allow-unauthenticated']))).toBeLessThanOrEqual(1_000)
    })
  })

  describe('headers that pose as Postern’s or as a proxy’s', () => {
    it('a WSGI upstream sees only Postern’s identity, whatever look-alikes the client sends', async () => {
      const r = await rawGet(p.gatewayPort, host('wsgi'), [
        `Authorization: Bearer ${ann}`,
        'X_Postern_Authenticated_Email: owner@example.com',
        'x-postern_authenticated-principal: user:owner@example.com',
        'X_POSTERN_JWT_ASSERTION: forged',
        `X_Serverless_Authorization: Bearer ${owner}`,
        'X_Forwarded_For: 10.0.0.1',
        'x_forwarded_host: evil.example',
      ])
      expect(r.status, r.raw.slice(0, 300)).toBe(200)
      const environ = JSON.parse(r.body) as Record<string, string>
      expect(environ.HTTP_X_POSTERN_AUTHENTICATED_EMAIL).toBe('ann@example.com')
      expect(environ.HTTP_X_POSTERN_AUTHENTICATED_PRINCIPAL).toBe('user:ann@example.com')
      expect(environ.HTTP_X_POSTERN_JWT_ASSERTION).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/)
      expect(environ.HTTP_X_FORWARDED_FOR).toBe('127.0.0.1')
      expect(environ.HTTP_X_FORWARDED_HOST).toBe(host('wsgi'))
      // A look-alike token header is dropped: the owner's token in it never reads as verified.
      expect(environ.HTTP_X_SERVERLESS_AUTHORIZATION).toBeUndefined()
    })

    // PHP reads X_Serverless_Authorization and X-Serverless.Authorization as X-Serverless-Authorization:
    // a forged owner's token in one, its signature replaced by Postern's mark, read as verified.
    it('a PHP upstream sees no look-alike of a token header, over HTTP/1.1 or HTTP/2', async () => {
      const forged = `Bearer ${forgedOwner()}.AAAA`
      const stripped = `Bearer ${ann.slice(0, ann.lastIndexOf('.'))}.SIGNATURE_REMOVED_BY_POSTERN`
      for (const lookAlike of ['X_Serverless_Authorization', 'X-Serverless.Authorization']) {
        // After the verified header of the name it looks like (PHP keeps the last), and beside Authorization.
        for (const verified of ['X-Serverless-Authorization', 'Authorization']) {
          const r = await rawGet(p.gatewayPort, host('php'), [`${verified}: Bearer ${ann}`, `${lookAlike}: ${forged}`], '/')
          expect(r.status, r.raw.slice(0, 300)).toBe(200)
          const server = JSON.parse(r.body) as Record<string, string>
          expect(server.HTTP_X_SERVERLESS_AUTHORIZATION, lookAlike).toBe(verified === 'Authorization' ? undefined : stripped)
        }
      }
      // nginx speaks HTTP/2 only under TLS (and hands it to the Node gateway): cleartext HTTP/2 is the Node plane's.
      if (dataPlane === 'node') {
        const r = await h2Ask(`http://127.0.0.1:${p.gatewayPort}`, { ':path': '/', ':authority': host('php'), 'x-serverless-authorization': `Bearer ${ann}`, x_serverless_authorization: forged })
        expect(r.status).toBe(200)
        expect((JSON.parse(r.body) as Record<string, string>).HTTP_X_SERVERLESS_AUTHORIZATION).toBe(stripped)
      }
    })

    // An app moved from behind Google IAP may still trust IAP's identity headers.
    const iap = ['X-Goog-Authenticated-User-Email: accounts.google.com:owner@example.com', 'x-goog-authenticated-user-id: accounts.google.com:1', 'X-Goog-IAP-JWT-Assertion: forged', 'X.Goog.Authenticated.User.Email: accounts.google.com:owner@example.com']
    it.each(['php', 'php-public'])('%s: no client header of Google IAP’s reaches the upstream, in any case or spelling', async (service) => {
      const r = await rawGet(p.gatewayPort, host(service), [...(service === 'php' ? [`Authorization: Bearer ${ann}`] : []), ...iap], '/')
      expect(r.status, r.raw.slice(0, 300)).toBe(200)
      const server = JSON.parse(r.body) as Record<string, string>
      expect(Object.keys(server).filter((k) => k.startsWith('HTTP_X_GOOG'))).toEqual([])
    })

    // PHP reads `.` in a header name as `_`, as it does `-`: X-Postern.Authenticated-Email is
    // $_SERVER['HTTP_X_POSTERN_AUTHENTICATED_EMAIL'] to a PHP app, and on a public service, where
    // an anonymous caller has no identity headers of Postern's to come after it, the only one.
    const dotted = ['X-Postern.Authenticated-Principal: user:owner@example.com', 'X.Postern.Authenticated.Email: owner@example.com', 'X-Postern.Jwt-Assertion: forged', 'X-Forwarded.For: 10.0.0.1', 'X.Forwarded.Host: evil.example']
    it('a PHP upstream, anonymous caller: none of its look-alikes with `.` reads as an identity or a forwarding header', async () => {
      const r = await rawGet(p.gatewayPort, host('php-public'), dotted, '/')
      expect(r.status, r.raw.slice(0, 300)).toBe(200)
      const server = JSON.parse(r.body) as Record<string, string>
      for (const name of ['HTTP_X_POSTERN_AUTHENTICATED_PRINCIPAL', 'HTTP_X_POSTERN_AUTHENTICATED_EMAIL', 'HTTP_X_POSTERN_JWT_ASSERTION']) expect(server[name], name).toBeUndefined()
      expect(server.HTTP_X_FORWARDED_FOR).toBe('127.0.0.1')
      expect(server.HTTP_X_FORWARDED_HOST).toBe(host('php-public'))
    })

    it('a PHP upstream, signed-in caller: it sees Postern’s identity, whatever the look-alikes with `.` say', async () => {
      const r = await rawGet(p.gatewayPort, host('php'), [`Authorization: Bearer ${ann}`, ...dotted], '/')
      expect(r.status, r.raw.slice(0, 300)).toBe(200)
      const server = JSON.parse(r.body) as Record<string, string>
      expect(server.HTTP_X_POSTERN_AUTHENTICATED_PRINCIPAL).toBe('user:ann@example.com')
      expect(server.HTTP_X_POSTERN_AUTHENTICATED_EMAIL).toBe('ann@example.com')
      expect(server.HTTP_X_POSTERN_JWT_ASSERTION).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/)
      expect(Object.values(server)).not.toContain('forged')
    })

    it('the client’s Forwarded, X-Forwarded-*, X-Real-IP are dropped; X-Forwarded-For is the peer Postern saw', async () => {
      const r = await rawGet(p.gatewayPort, host('wsgi'), [
        `Authorization: Bearer ${ann}`,
        'Forwarded: for=10.0.0.1;host=evil.example;proto=https',
        'X-Forwarded-For: 10.0.0.1',
        'X-Forwarded-Proto: https',
        'X-Forwarded-Host: evil.example',
        'X-Forwarded-Port: 443',
        'X-Forwarded-Prefix: /admin',
        'X-Forwarded-Server: evil',
        'X-Real-IP: 10.0.0.2',
        'True-Client-IP: 10.0.0.3',
      ])
      expect(r.status).toBe(200)
      const environ = JSON.parse(r.body) as Record<string, string>
      expect(environ.HTTP_X_FORWARDED_FOR).toBe('127.0.0.1')
      expect(environ.HTTP_X_FORWARDED_PROTO).toBe('http')
      expect(environ.HTTP_X_FORWARDED_HOST).toBe(host('wsgi'))
      for (const name of ['HTTP_FORWARDED', 'HTTP_X_FORWARDED_PORT', 'HTTP_X_FORWARDED_PREFIX', 'HTTP_X_FORWARDED_SERVER', 'HTTP_X_REAL_IP', 'HTTP_TRUE_CLIENT_IP']) {
        expect(environ[name], name).toBeUndefined()
      }
    })

    it('a Connection header may not nominate a look-alike of a protected header', async () => {
      const r = await rawGet(p.gatewayPort, host('wsgi'), [`Authorization: Bearer ${ann}`, 'Connection: X_Postern_Authenticated_Email'])
      expect(r.status).toBe(400)
    })
  })

  describe('postern services proxy answers only its own origin', () => {
    const proxies: ChildProcess[] = []
    const startProxy = async (args: string[] = []) => {
      const proxy = await startServicesProxy('private', p.configDir, { args })
      proxies.push(proxy.process)
      return proxy.port
    }
    let port: number
    beforeAll(async () => {
      port = await startProxy()
    })
    afterAll(() => {
      for (const proxy of proxies) proxy.kill('SIGTERM')
    })

    it('serves localhost, 127.0.0.1 and [::1] on its own port', async () => {
      for (const name of ['localhost', '127.0.0.1', '[::1]', 'LOCALHOST']) {
        const r = await rawGet(port, `${name}:${port}`, [])
        expect(r.status, name).toBe(200)
      }
    })

    it('refuses a rebound DNS name, another port, and a Host it cannot read, before reaching the service', async () => {
      const before = upstream.seen.length
      for (const h of [`evil.example:${port}`, 'evil.example', `localhost:${port + 1}`, `127.0.0.1.evil.example:${port}`, `localhost:${port}@evil.example`]) {
        const r = await rawGet(port, h, [])
        expect(r.status, h).toBe(403)
      }
      expect(upstream.seen.length).toBe(before)
    })

    it('answers a target that is not a path (OPTIONS *, GET *) with 400, not a 502 that blames the gateway', async () => {
      const before = upstream.seen.length
      for (const line of ['OPTIONS * HTTP/1.1', 'GET * HTTP/1.1']) {
        const r = await rawRequest(port, `${line}\r\nHost: localhost:${port}\r\nConnection: close\r\n\r\n`)
        expect(r.status, `${line}: ${r.raw.slice(0, 300)}`).toBe(400)
        expect(JSON.parse(r.body)).toMatchObject({ error: { code: 400, status: 'INVALID_ARGUMENT' } })
      }
      const upgrade = await rawRequest(port, `GET * HTTP/1.1\r\nHost: localhost:${port}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`)
      expect(upgrade.status, upgrade.raw.slice(0, 300)).toBe(400)
      expect(upstream.seen.length).toBe(before)
    })

    it('refuses a request line without a version (HTTP/0.9) with 400, whatever its method, before reaching the service', async () => {
      const before = upstream.seen.length
      for (const method of ['GET', 'PRI', 'POST']) {
        // With a Host it would pass (Node's parser reads headers after an HTTP/0.9 line), and without one.
        for (const head of [`Host: localhost:${port}\r\n`, '']) {
          const r = await rawRequest(port, `${method} /echo\r\n${head}\r\n`)
          expect(r.status, `${method} ${head}: ${r.raw.slice(0, 300)}`).toBe(400)
          expect(JSON.parse(r.body)).toMatchObject({ error: { code: 400, status: 'INVALID_ARGUMENT', message: expect.stringContaining('HTTP/0.9') } })
        }
      }
      expect(upstream.seen.length).toBe(before)
    })

    // node:http2 sends no header block over 64 KB: the stream closed as refused, and the proxy
    // answered 502 saying it could not reach the gateway.
    it.runIf(dataPlane === 'node')('answers an HTTP/2 caller whose headers are too large to send on with 431, not a 502', async () => {
      const ask = (kb: number) => h2Ask(`http://127.0.0.1:${port}`, { ':path': '/echo', ':authority': `localhost:${port}`, ...bigHeaders(kb) })
      const big = await ask(80)
      expect(big.status, big.body).toBe(431)
      expect(JSON.parse(big.body)).toMatchObject({ error: { code: 431, status: 'REQUEST_HEADER_FIELDS_TOO_LARGE' } })
      expect((await ask(20)).status).toBe(200)
    })

    it('refuses a cross-site browser request: a POST from another origin, Sec-Fetch-Site: cross-site, a WebSocket from another origin', async () => {
      const before = upstream.seen.length
      const post = (headers: string) =>
        rawRequest(port, `POST /echo HTTP/1.1\r\nHost: localhost:${port}\r\n${headers}Content-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi`)
      expect((await post('Origin: http://evil.example\r\n')).status).toBe(403)
      expect((await post('Origin: null\r\n')).status).toBe(403)
      expect((await post(`Origin: http://localhost:${port + 1}\r\n`)).status).toBe(403)
      expect((await post('Sec-Fetch-Site: cross-site\r\n')).status).toBe(403)
      const ws = new WebSocket(`ws://127.0.0.1:${port}/live`, { headers: { origin: 'http://evil.example' } })
      const status = await new Promise<number>((resolve) => ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)).once('open', () => resolve(101)))
      expect(status).toBe(403)
      expect(upstream.seen.length).toBe(before)
      // The proxy's own page may post to it.
      expect((await post(`Origin: http://localhost:${port}\r\nSec-Fetch-Site: same-origin\r\n`)).status).toBe(200)
    })

    it('--accept-hosts adds names, as kubectl proxy does; a bad expression is a usage error', async () => {
      const extra = await startProxy(['--accept-hosts', '^dev\\.example\\.com$'])
      expect((await rawGet(extra, `dev.example.com:${extra}`, [])).status).toBe(200)
      expect((await rawGet(extra, `dev.example.com.evil.example:${extra}`, [])).status).toBe(403)
      expect((await rawGet(extra, `localhost:${extra}`, [])).status).toBe(200)
      const bad = await p.cli(['services', 'proxy', 'private', '--accept-hosts', '('])
      expect(bad.code).toBe(2)
      expect(bad.stderr).toContain('--accept-hosts')
    })
  })

  describe('request targets, metrics and cookies', () => {
    it('an absolute-form target naming the Host is forwarded in origin-form; a fragment never reaches the upstream', async () => {
      const h = host('private')
      const absolute = await rawRequest(p.gatewayPort, `GET http://${h}/echo/abs?x=1 HTTP/1.1\r\nHost: ${h}\r\nAuthorization: Bearer ${ann}\r\nConnection: close\r\n\r\n`)
      expect(absolute.status).toBe(200)
      expect(upstream.seen.at(-1)!.url).toBe('/echo/abs?x=1')
      const fragment = await rawRequest(p.gatewayPort, `GET /echo/frag?y=2#secret HTTP/1.1\r\nHost: ${h}\r\nAuthorization: Bearer ${ann}\r\nConnection: close\r\n\r\n`)
      expect(fragment.status).toBe(200)
      expect(upstream.seen.at(-1)!.url).toBe('/echo/frag?y=2')
      // HTTP/1.0 needs no Host, but the gateway routes by it: both planes say what is missing.
      const noHost = await rawRequest(p.gatewayPort, `GET http://${h}/echo/abs HTTP/1.0\r\nAuthorization: Bearer ${ann}\r\n\r\n`)
      expect(noHost.status).toBe(400)
      expect(JSON.parse(noHost.body)).toMatchObject({ error: { status: 'INVALID_ARGUMENT', message: 'The request has no Host header.' } })
    })

    it('a Host with the trailing dot of a fully qualified name reaches the same service under the same policy', async () => {
      const fqdn = { host: `private.my-project.localhost.:${p.gatewayPort}` }
      const allowed = await request(`http://127.0.0.1:${p.gatewayPort}/echo/fqdn`, { headers: { ...fqdn, authorization: `Bearer ${ann}` } })
      expect(allowed.statusCode).toBe(200)
      await allowed.body.dump()
      expect(upstream.seen.at(-1)!.url).toBe('/echo/fqdn')
      const anonymous = await request(`http://127.0.0.1:${p.gatewayPort}/echo/fqdn`, { headers: fqdn })
      expect(anonymous.statusCode).toBe(401)
      await anonymous.body.dump()
      // dave may invoke `sockets` alone (and is neither disabled nor deleted by the tests before).
      const ungranted = await request(`http://127.0.0.1:${p.gatewayPort}/echo/fqdn`, { headers: { ...fqdn, authorization: `Bearer ${tokens.dave}` } })
      expect(ungranted.statusCode).toBe(403)
      await ungranted.body.dump()
    })

    it('the gateway port never serves /metrics, on any host; the control plane does, to a caller who may see every service', async () => {
      for (const h of [`127.0.0.1:${p.gatewayPort}`, `localhost:${p.gatewayPort}`, 'metrics.example']) {
        const r = await rawGet(p.gatewayPort, h, [], '/metrics')
        expect(r.status, h).toBe(404)
        expect(r.body).not.toContain('projects/my-project/services')
      }
      expect((await rawGet(p.gatewayPort, `127.0.0.1:${p.gatewayPort}`, [], '/healthz')).status).toBe(200)
      expect((await fetch(`${p.controlUrl}/metrics`)).status).toBe(401)
      expect((await fetch(`${p.controlUrl}/metrics`, { headers: { authorization: `Bearer ${owner}` } })).status).toBe(200)
    })

    it('an upstream cannot set Postern’s cookies through the gateway; its own pass', async () => {
      const res = await gw('plain', '/cookies', { authorization: `Bearer ${ann}` })
      await res.body.dump()
      expect(res.statusCode).toBe(200)
      expect([res.headers['set-cookie']].flat()).toEqual(['app=1; Path=/'])
    })

    it('the console session cookie is __Host- prefixed: Secure, Path=/, no Domain', async () => {
      const form = await fetch(`${p.controlUrl}/signin`)
      const formCookie = /postern_signin=([^;]+)/.exec(form.headers.get('set-cookie') ?? '')![1]!
      const formToken = /name="form_token" value="([^"]+)"/.exec(await form.text())![1]!
      const signin = await fetch(`${p.controlUrl}/signin`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `postern_signin=${formCookie}` },
        body: new URLSearchParams({ email: 'ann@example.com', password: 'ann-password-123', return_to: '/console', form_token: formToken }),
      })
      const session = signin.headers.getSetCookie().find((c) => c.includes('postern_session='))!
      expect(session).toMatch(/^__Host-postern_session=[^;]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+; Secure$/)
      // The plain name is not read: a cookie tossed under it signs no one in.
      const value = /=([^;]+)/.exec(session)![1]!
      expect((await fetch(`${p.controlUrl}/v1/session`, { headers: { cookie: `__Host-postern_session=${value}` } })).status).toBe(200)
      expect((await fetch(`${p.controlUrl}/v1/session`, { headers: { cookie: `postern_session=${value}` } })).status).toBe(401)
    })
  })
})
