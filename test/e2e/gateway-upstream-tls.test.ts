import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:https'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rawGet } from '../support/raw-http.js'
import { selfSignedCertificate } from '../support/self-signed.js'
import { DATA_PLANES, startPostern, type PosternProcess } from '../support/server.js'
import { createUser, signInUser } from '../support/sign-in.js'

/** An https upstream (node:https) with its own certificate: it counts the requests that reach it and what they carried. */
async function httpsUpstream(tls: { cert: string; key: string }) {
  const seen: { host?: string; email?: string; authorization?: string }[] = []
  const server: Server = createServer({ cert: readFileSync(tls.cert), key: readFileSync(tls.key) }, (req, res) => {
    seen.push({ host: req.headers.host, email: req.headers['x-postern-authenticated-email'] as string | undefined, authorization: req.headers.authorization })
    req.resume()
    res.end('secret answer')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { port: (server.address() as AddressInfo).port, seen, close: () => new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections() }) }
}

/**
 * An https upstream gets a request, with the caller's identity and token, only once its certificate
 * has been checked: chained to a CA Postern trusts (Node's, and NODE_EXTRA_CA_CERTS) and naming the
 * upstream's host. nginx checks nothing unless told to; both planes must refuse alike (502).
 */
describe.each(DATA_PLANES)('https upstreams through the %s data plane', (dataPlane) => {
  let p: PosternProcess
  let trusted: Awaited<ReturnType<typeof httpsUpstream>>
  let stranger: Awaited<ReturnType<typeof httpsUpstream>>
  let misnamed: Awaited<ReturnType<typeof httpsUpstream>>
  let dev: { configDir: string }

  beforeAll(async () => {
    const ca = selfSignedCertificate()
    const elsewhere = selfSignedCertificate('DNS:elsewhere.example')
    trusted = await httpsUpstream(ca)
    stranger = await httpsUpstream(selfSignedCertificate())
    misnamed = await httpsUpstream(elsewhere)
    const cas = join(mkdtempSync(join(tmpdir(), 'postern-cas-')), 'cas.pem')
    writeFileSync(cas, readFileSync(ca.cert, 'utf8') + readFileSync(elsewhere.cert, 'utf8'))
    p = await startPostern({ dataPlane, env: { NODE_EXTRA_CA_CERTS: cas } })
    await createUser(p, 'ann@example.com', 'ann-password-123')
    dev = await signInUser(p, 'ann@example.com', 'ann-password-123')
  })
  afterAll(async () => {
    await p?.stop()
    await trusted?.close()
    await stranger?.close()
    await misnamed?.close()
  })

  /** A service on this upstream that ann may invoke, and what ann's request to it gets. */
  const serviceAt = async (name: string, upstream: string) => {
    const r = await p.cli(['services', 'create', name, `--upstream=${upstream}`, '--format=json'])
    expect(r.code, r.stderr).toBe(0)
    expect((await p.cli(['services', 'add-iam-policy-binding', name, '--member=user:ann@example.com', '--role=roles/run.invoker'])).code).toBe(0)
    const url = JSON.parse(r.stdout).uri as string
    const token = (await p.cli(['auth', 'print-identity-token', '--audiences', url], { configDir: dev.configDir })).stdout.trim()
    return () => rawGet(p.gatewayPort, new URL(url).host, [`Authorization: Bearer ${token}`], '/')
  }

  it('forwards to an upstream whose certificate chains to a trusted CA and names its host', async () => {
    const call = await serviceAt('trusted', `https://localhost:${trusted.port}`)
    await expect.poll(async () => (await call()).status, { timeout: 15_000 }).toBe(200)
    expect((await call()).body).toBe('secret answer')
    expect(trusted.seen.at(-1)).toMatchObject({ host: `localhost:${trusted.port}`, email: 'ann@example.com' })
  })

  // nginx 1.22 checks a certificate's names with X509_check_host, which reads DNS names only: an
  // upstream named by its address is refused unless its certificate names the address as a DNS
  // name too (README, "Where the nginx data plane answers otherwise"). Refused, never sent unchecked.
  it(`${dataPlane === 'node' ? 'forwards to' : 'answers 502 for'} an upstream named by an IP address its certificate names`, async () => {
    const before = trusted.seen.length
    const call = await serviceAt('by-address', `https://127.0.0.1:${trusted.port}`)
    await expect.poll(async () => (await call()).status, { timeout: 15_000 }).toBe(dataPlane === 'node' ? 200 : 502)
    expect(trusted.seen.length > before).toBe(dataPlane === 'node')
    // The log says why, when nginx is given the service.
    if (dataPlane === 'nginx') expect(p.output()).toContain(`named by its IP address (https://127.0.0.1:${trusted.port})`)
  })

  it('answers 502 for an upstream whose certificate no trusted CA signed, and sends it nothing', async () => {
    const call = await serviceAt('stranger', `https://localhost:${stranger.port}`)
    // Until the new service reaches the gateway it is unknown there (404); then the certificate is refused.
    await expect.poll(async () => (await call()).status, { timeout: 15_000 }).toBe(502)
    const res = await call()
    expect(JSON.parse(res.body).error).toMatchObject({ code: 502, status: 'BAD_GATEWAY' })
    expect(stranger.seen).toEqual([])
  })

  it('answers 502 for a certificate a trusted CA signed for another name, and sends it nothing', async () => {
    const call = await serviceAt('misnamed', `https://localhost:${misnamed.port}`)
    await expect.poll(async () => (await call()).status, { timeout: 15_000 }).toBe(502)
    expect(misnamed.seen).toEqual([])
  })
})
