import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { runCli } from '../support/cli.js'
import { freePort } from '../support/ports.js'
import { selfSignedCertificate } from '../support/self-signed.js'

/**
 * `postern serve` checks its flags and environment once, before it opens anything, and names
 * every wrong value in one go. POSTERN_CHANGE_POLL_MS=abc used to start a server whose /readyz
 * stayed 503 for good while a 1 ms poll loop burned half a core.
 */
describe('postern serve configuration', () => {
  const serve = (args: string[], env: Record<string, string>) => {
    const dir = mkdtempSync(join(tmpdir(), 'postern-config-'))
    return runCli(['serve', '--data-dir', join(dir, 'data'), ...args], { configDir: join(dir, 'cli'), env, timeoutMs: 20_000 })
  }

  it('names in --help every environment variable it reads, the master key every process must share first', async () => {
    const r = await runCli(['serve', '--help'], { configDir: mkdtempSync(join(tmpdir(), 'postern-config-')) })
    expect(r.code).toBe(0)
    const listed = r.stdout.slice(r.stdout.indexOf('Environment:'))
    for (const name of ['POSTERN_MASTER_KEY', 'POSTERN_DATABASE_URL', 'POSTERN_DATA_DIR', 'POSTERN_CONFIG_DIR', 'POSTERN_LOG_LEVEL', 'POSTERN_CHANGE_POLL_MS', 'POSTERN_TLS_CHECK_MS', 'NODE_EXTRA_CA_CERTS']) expect(listed).toContain(name)
  })

  it('refuses a change-poll interval that is not a number, and says what it expects', async () => {
    const r = await serve(['--port', String(await freePort()), '--gateway-port', String(await freePort())], { POSTERN_CHANGE_POLL_MS: 'abc' })
    expect(r.code).toBe(2)
    expect(r.stderr).toContain("POSTERN_CHANGE_POLL_MS: expected milliseconds from 10 to 60000, got 'abc'.")
    expect(r.stdout).not.toMatch(/listening|Console/i)
  })

  it('names every wrong value at once: flags and environment alike', async () => {
    const r = await serve(['--port', 'seventy', '--gateway-port', '0', '--workers', '0', '--tls-cert', 'cert.pem'], { POSTERN_CHANGE_POLL_MS: '1', POSTERN_LOG_LEVEL: 'loud', POSTERN_TLS_CHECK_MS: 'often' })
    expect(r.code).toBe(2)
    for (const problem of [
      "--port: 'seventy' is not a port number.",
      "--gateway-port: 0 (any free port) cannot be used: Postern's URLs name its ports (the issuer in every token, each service's URL), so choose one, from 1 to 65535.",
      "--workers: expected 1 to 64, got '0'.",
      '--tls-cert and --tls-key go together.',
      "POSTERN_CHANGE_POLL_MS: expected milliseconds from 10 to 60000, got '1'.",
      "POSTERN_LOG_LEVEL: expected one of debug, info, warn, error, got 'loud'.",
      "POSTERN_TLS_CHECK_MS: expected milliseconds from 100 to 3600000, got 'often'.",
    ]) {
      expect(r.stderr).toContain(problem)
    }
  })

  it('a first start whose --project it cannot take says why and exits, not serving on (it printed the error and stayed up)', async () => {
    const r = await serve(['--project=Bad', '--port', String(await freePort()), '--gateway-port', String(await freePort())], {})
    expect(r).toMatchObject({ code: 1, stderr: expect.stringContaining("Invalid project id 'Bad'") })
  })

  it('says so when one port is given to two listeners (it said the second found it "in use (another postern serve?)")', async () => {
    const port = String(await freePort())
    const r = await serve(['--port', port, '--gateway-port', port, '--metrics-port', port], {})
    expect(r.code).toBe(2)
    expect(r.stderr).toContain(`--port and --gateway-port are both ${port}: each listener needs a port of its own.`)
    expect(r.stderr).toContain(`--gateway-port and --metrics-port are both ${port}: each listener needs a port of its own.`)
    expect(r.stderr).not.toContain('in use')
  })

  it('names what is wrong with a certificate and key before anything listens, on either data plane', async () => {
    const first = selfSignedCertificate()
    const other = selfSignedCertificate()
    const cases: [string[], string][] = [
      [['--tls-cert', first.cert, '--tls-key', other.key], `Cannot serve TLS: --tls-key ${other.key} is not the key of the certificate in --tls-cert ${first.cert}.`],
      [['--tls-cert', `${first.cert}.gone`, '--tls-key', first.key], `Cannot serve TLS: cannot read --tls-cert ${first.cert}.gone (ENOENT).`],
      [['--tls-cert', first.key, '--tls-key', first.key], `Cannot serve TLS: --tls-cert ${first.key} holds no PEM certificate.`],
      [['--tls-cert', first.cert, '--tls-key', first.cert], `Cannot serve TLS: --tls-key ${first.cert} holds no PEM private key`],
      [['--data-plane', 'nginx', '--tls-cert', first.cert, '--tls-key', other.key], `Cannot serve TLS: --tls-key ${other.key} is not the key of the certificate in --tls-cert ${first.cert}.`],
    ]
    for (const [args, said] of cases) {
      const r = await serve(['--port', String(await freePort()), '--gateway-port', String(await freePort()), ...args], {})
      expect(r.code, r.stderr).toBe(1)
      expect(r.stderr).toContain(said)
      expect(r.stdout).not.toContain('Postern is ready')
    }
  })
})
