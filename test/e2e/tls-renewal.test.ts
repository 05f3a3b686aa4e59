import { X509Certificate } from 'node:crypto'
import { mkdirSync, mkdtempSync, readFileSync, renameSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { curl } from '../support/curl.js'
import { eventually } from '../support/eventually.js'
import { freePort } from '../support/ports.js'
import { selfSignedCertificate } from '../support/self-signed.js'
import { fingerprintOf, servedFingerprint } from '../support/served-certificate.js'
import { DATA_PLANES, startPostern, type PosternProcess } from '../support/server.js'

const expiryOf = (certPath: string) => Date.parse(new X509Certificate(readFileSync(certPath)).validTo) / 1000

/** postern_tls_certificate_expiry_timestamp_seconds, from the anonymous metrics listener (TLS too). */
async function expiryGauge(port: number): Promise<number> {
  const r = await curl(['-sk', `https://127.0.0.1:${port}/metrics`])
  return Number(/^postern_tls_certificate_expiry_timestamp_seconds (\S+)$/m.exec(r.stdout)?.[1])
}

/** Points `link` at `target` in one step, as certbot moves its live/ links to a renewal's files. */
function repoint(link: string, target: string): void {
  const next = `${link}.next`
  symlinkSync(target, next)
  renameSync(next, link)
}

/**
 * A certificate renewed on disk is served without a restart, on the gateway, the control plane
 * and the metrics listener, on both data planes, and the expiry gauge follows it: `--tls-cert` and `--tls-key` are links into an archive, as
 * certbot's live/ directory holds them, and a renewal re-points them one after the other.
 */
describe.each(DATA_PLANES)('a renewed TLS certificate (%s data plane)', (dataPlane) => {
  let p: PosternProcess
  let metricsPort: number
  const first = selfSignedCertificate()
  // Valid for longer than the first, as a renewal is: the expiry gauge tells them apart.
  const renewed = selfSignedCertificate(undefined, 90)
  const live = join(mkdtempSync(join(tmpdir(), 'postern-live-')), 'live')
  const cert = join(live, 'cert.pem')
  const key = join(live, 'key.pem')

  beforeAll(async () => {
    mkdirSync(live)
    symlinkSync(first.cert, cert)
    symlinkSync(first.key, key)
    metricsPort = await freePort()
    // Relative, as typed in certbot's directory: nginx, which reads them from its own directory,
    // refused the configuration ("cannot load certificate …/nginx/live/cert.pem").
    p = await startPostern({ dataPlane, cwd: dirname(live), args: ['--tls-cert', 'live/cert.pem', '--tls-key', 'live/key.pem', '--metrics-port', String(metricsPort)], env: { NODE_EXTRA_CA_CERTS: first.cert, POSTERN_TLS_CHECK_MS: '200' } })
  })
  afterAll(async () => {
    await p?.stop()
  })

  it('is served to new connections within moments; a renewal caught halfway keeps the pair in use, and says so once', async () => {
    for (const port of [p.gatewayPort, p.controlPort, metricsPort]) expect(await servedFingerprint(port)).toBe(fingerprintOf(first.cert))
    expect(await expiryGauge(metricsPort)).toBe(expiryOf(first.cert))
    // The first certificate has a day left: said at start, as a warning.
    expect(p.output().match(/"level":"warn","msg":"the TLS certificate expires in 2[34] hours \(/g)).toHaveLength(1)
    // What start-up prints names the ports as they are served.
    expect(p.output()).toContain(`Gateway: https://127.0.0.1:${p.gatewayPort} `)
    expect(p.output()).toContain(`Metrics (no credential needed): https://127.0.0.1:${metricsPort}/metrics`)

    // The new certificate, not yet its key: no pair a TLS server could serve.
    repoint(cert, renewed.cert)
    await new Promise((r) => setTimeout(r, 1_000))
    for (const port of [p.gatewayPort, p.controlPort]) expect(await servedFingerprint(port)).toBe(fingerprintOf(first.cert))
    expect(p.output().match(/the TLS certificate or key changed but cannot be used/g)).toHaveLength(1)

    repoint(key, renewed.key)
    await eventually(5_000, async () => (await servedFingerprint(p.gatewayPort)) === fingerprintOf(renewed.cert), 'the gateway serving the renewed certificate')
    expect(await servedFingerprint(p.controlPort)).toBe(fingerprintOf(renewed.cert))
    expect(await servedFingerprint(metricsPort)).toBe(fingerprintOf(renewed.cert))
    expect(await expiryGauge(metricsPort)).toBe(expiryOf(renewed.cert))
    expect(p.output()).toContain('TLS certificate reloaded')
    // The renewed one has 90 days: nothing more is said of its expiry.
    expect(p.output().match(/the TLS certificate expires in/g)).toHaveLength(1)
    // A client that trusts only the renewed certificate is served.
    const health = await curl(['--cacert', renewed.cert, '-s', '-o', '/dev/null', '-w', '%{http_code}', `https://localhost:${p.controlPort}/healthz`])
    expect(health.stdout).toBe('200')
  })

  it("the CLI, not trusting the server's self-signed certificate, says how to trust it (it said it could not reach the server)", async () => {
    const r = await p.cli(['services', 'list'], { env: { NODE_EXTRA_CA_CERTS: '' } })
    expect(r.code).toBe(1)
    expect(r.stderr).toContain(`ERROR: https://127.0.0.1:${p.controlPort} presented a certificate this machine does not trust (self-signed certificate). If it is your Postern's own, trust it here: export NODE_EXTRA_CA_CERTS=`)
    const trusting = await p.cli(['services', 'list'], { env: { NODE_EXTRA_CA_CERTS: renewed.cert } })
    expect(trusting.code, trusting.stderr).toBe(0)
  })
})
