import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import http2 from 'node:http2'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { curl } from '../support/curl.js'
import { selfSignedCertificate } from '../support/self-signed.js'
import { startPostern, type PosternProcess } from '../support/server.js'
import { startUpstream } from '../support/upstream.js'

/** HTTP/2 from curl: h2c with prior knowledge beside HTTP/1.1 on the gateway port, and h2 by ALPN under TLS. */
describe('HTTP/2 callers through the gateway, with curl', () => {
  let p: PosternProcess
  let upstream: Awaited<ReturnType<typeof startUpstream>>
  let token: string
  let url: string

  beforeAll(async () => {
    upstream = await startUpstream()
    p = await startPostern()
    expect((await p.cli(['services', 'create', 'web', `--upstream=${upstream.url}`])).code).toBe(0)
    token = await p.ownerIdToken()
    url = `http://web.my-project.localhost:${p.gatewayPort}`
  })
  afterAll(async () => {
    await Promise.all([p?.stop(), upstream?.close()])
  })

  it('curl --http2-prior-knowledge gets HTTP/2 answers decided as HTTP/1.1 ones, from an HTTP/1.1 upstream', async () => {
    const r = await curl(['--http2-prior-knowledge', '-w', '\n%{http_version} %{http_code}', '-H', `Authorization: Bearer ${token}`, '-H', 'X-Postern-Authenticated-Email: forged@example.com', '-H', 'X-Forwarded-For: 6.6.6.6', '-b', 'postern_service_session=stolen; app=1', `${url}/echo?q=1`])
    expect(r.stderr).toBe('')
    const [body, status] = r.stdout.split('\n')
    expect(status).toBe('2 200')
    const seen = JSON.parse(body!) as { url: string; headers: Record<string, string> }
    expect(seen.url).toBe('/echo?q=1')
    expect(seen.headers['x-postern-authenticated-email']).toBe('owner@example.com')
    expect(seen.headers.authorization).toMatch(/\.SIGNATURE_REMOVED_BY_POSTERN$/)
    expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1')
    expect(seen.headers['x-forwarded-proto']).toBe('http')
    expect(seen.headers.cookie).toBe('app=1')
    expect(seen.headers['x-postern-jwt-assertion']).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/)

    const plain = await curl(['--http1.1', '-w', '%{http_version} %{http_code}', '-o', '/dev/null', '-H', `Authorization: Bearer ${token}`, `${url}/echo`])
    expect(plain.stdout).toBe('1.1 200')
  })

  it('refuses over HTTP/2 as over HTTP/1.1: 401 without a token, 404 for no service, 400 for a Host that contradicts :authority', async () => {
    const anonymous = await curl(['--http2-prior-knowledge', '-i', `${url}/`])
    expect(anonymous.stdout).toMatch(/^HTTP\/2 401/)
    expect(anonymous.stdout).toMatch(/www-authenticate: Bearer realm="postern"/)
    expect(anonymous.stdout).toContain('"status":"UNAUTHENTICATED"')
    const unknown = await curl(['--http2-prior-knowledge', '-o', '/dev/null', '-w', '%{http_code}', `http://nothing.my-project.localhost:${p.gatewayPort}/`])
    expect(unknown.stdout).toBe('404')
    // A Host header that names another service than :authority (curl folds -H Host into :authority, so node:http2 sends it).
    const session = http2.connect(`http://127.0.0.1:${p.gatewayPort}`)
    const status = await new Promise<unknown>((resolve) => {
      const req = session.request({ ':authority': `other.my-project.localhost:${p.gatewayPort}`, host: `web.my-project.localhost:${p.gatewayPort}`, ':path': '/', authorization: `Bearer ${token}` })
      req.on('response', (h) => resolve(h[':status']))
      req.on('error', (err) => resolve(err.message))
      req.resume()
    })
    session.close()
    expect(status).toBe(400)
  })

  it('streams a request body up and a large response down over one HTTP/2 stream', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'postern-h2-'))
    const file = join(dir, 'body.bin')
    const data = randomBytes(3 * 1024 * 1024)
    writeFileSync(file, data)
    const up = await curl(['--http2-prior-knowledge', '-H', `Authorization: Bearer ${token}`, '--data-binary', `@${file}`, `${url}/upload`])
    expect(up.stderr).toBe('')
    expect(JSON.parse(up.stdout)).toEqual({ sha256: createHash('sha256').update(data).digest('hex'), length: data.length })
    const down = await curl(['--http2-prior-knowledge', '-H', `Authorization: Bearer ${token}`, '-o', '/dev/null', '-w', '%{size_download} %{http_version}', `${url}/download?mb=8`])
    expect(down.stdout).toBe(`${8 * 1024 * 1024} 2`)
  })
})

describe('HTTP/2 over TLS with ALPN', () => {
  let p: PosternProcess
  let tls: { cert: string; key: string }

  beforeAll(async () => {
    tls = selfSignedCertificate()
    p = await startPostern({ args: ['--demo', '--tls-cert', tls.cert, '--tls-key', tls.key], env: { NODE_EXTRA_CA_CERTS: tls.cert } })
  })
  afterAll(async () => {
    await p?.stop()
  })

  it('curl --http2 negotiates h2 by ALPN and reaches the demo service; --http1.1 still gets HTTP/1.1', async () => {
    const token = (await p.cli(['auth', 'print-identity-token'], { env: { NODE_EXTRA_CA_CERTS: tls.cert } })).stdout.trim()
    expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/)
    const service = `https://hello.my-project.localhost:${p.gatewayPort}/`
    const h2 = await curl(['--http2', '--cacert', tls.cert, '-w', '\n%{http_version} %{http_code}', '-H', `Authorization: Bearer ${token}`, service])
    expect(h2.stderr).toBe('')
    expect(h2.stdout).toMatch(/Hello, owner@example.com!/)
    expect(h2.stdout.split('\n').at(-1)).toBe('2 200')
    const h1 = await curl(['--http1.1', '--cacert', tls.cert, '-o', '/dev/null', '-w', '%{http_version} %{http_code}', '-H', `Authorization: Bearer ${token}`, service])
    expect(h1.stdout).toBe('1.1 200')
    const refused = await curl(['--http2', '--cacert', tls.cert, '-o', '/dev/null', '-w', '%{http_version} %{http_code}', service])
    expect(refused.stdout).toBe('2 401')
  })
})
