import { spawn } from 'node:child_process'
import { copyFileSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BIN } from '../support/cli.js'
import { curl } from '../support/curl.js'
import { eventually } from '../support/eventually.js'
import { freePort } from '../support/ports.js'
import { selfSignedCertificate } from '../support/self-signed.js'
import { fingerprintOf, servedFingerprint } from '../support/served-certificate.js'
import { DATA_PLANES, startPostern, type PosternProcess } from '../support/server.js'


/**
 * SIGHUP, as `systemctl reload postern` or a certbot deploy hook's `kill -HUP` sends it, reads the
 * TLS certificate and key again at once (the periodic look is an hour away here) and Postern
 * serves on; Node's default was to die on the spot, mid-request, its nginx left behind.
 */
describe.each(DATA_PLANES)('SIGHUP under a service manager (%s data plane)', (dataPlane) => {
  let p: PosternProcess
  const dir = mkdtempSync(join(tmpdir(), 'postern-hup-'))
  const cert = join(dir, 'cert.pem')
  const key = join(dir, 'key.pem')
  const first = selfSignedCertificate()
  const renewed = selfSignedCertificate(undefined, 90)

  beforeAll(async () => {
    copyFileSync(first.cert, cert)
    copyFileSync(first.key, key)
    p = await startPostern({ dataPlane, args: ['--tls-cert', cert, '--tls-key', key], env: { NODE_EXTRA_CA_CERTS: first.cert, POSTERN_TLS_CHECK_MS: '3600000' } })
  })
  afterAll(async () => {
    await p?.stop()
  })

  it('reads the TLS files again at once and keeps serving', async () => {
    copyFileSync(renewed.cert, cert)
    copyFileSync(renewed.key, key)
    await new Promise((r) => setTimeout(r, 500))
    expect(await servedFingerprint(p.gatewayPort)).toBe(fingerprintOf(first.cert))

    p.signal('SIGHUP')
    await eventually(5_000, async () => (await servedFingerprint(p.gatewayPort)) === fingerprintOf(renewed.cert), 'the gateway serving the renewed certificate')
    expect(await servedFingerprint(p.controlPort)).toBe(fingerprintOf(renewed.cert))
    expect(p.output()).toContain('SIGHUP: TLS certificate and key read again: the renewed pair is served to new connections')

    p.signal('SIGHUP')
    await eventually(5_000, () => p.output().includes('SIGHUP: TLS certificate and key read again: unchanged'), 'the second SIGHUP said')
    expect(p.running()).toBe(true)
    const health = await curl(['-sk', '-o', '/dev/null', '-w', '%{http_code}', `https://127.0.0.1:${p.controlPort}/healthz`])
    expect(health.stdout).toBe('200')
  })
})

/**
 * SIGHUP with Postern's output on a terminal is the terminal closing (an ssh session ended):
 * Postern stops as for SIGTERM, exit 0 and its nginx with it, where Node's default ended it on
 * the spot. The terminal is a real pseudo-terminal (Python's pty), which the test signals as the
 * kernel would its foreground process.
 */
describe.each(DATA_PLANES)('SIGHUP on a terminal (%s data plane)', (dataPlane) => {
  it('stops Postern as SIGTERM does', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'postern-hup-tty-'))
    const args = [BIN, 'serve', '--port', String(await freePort()), '--gateway-port', String(await freePort()), '--data-dir', dataDir, '--data-plane', dataPlane]
    const child = spawn('python3', ['-c', UNDER_A_TERMINAL, process.execPath, ...args], { env: { ...process.env, POSTERN_CONFIG_DIR: join(dataDir, 'cli') }, stdio: ['ignore', 'pipe', 'pipe'] })
    let said = ''
    child.stdout.on('data', (d: Buffer) => (said += d.toString()))
    child.stderr.on('data', (d: Buffer) => (said += d.toString()))
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
    expect(said).toContain('Postern is ready.')
    expect(said).toMatch(/after SIGHUP: exit code 0\b/)
    // Nothing of that Postern is left running (its nginx neither).
    await eventually(3_000, () => !processesNaming(dataDir), `no process left naming ${dataDir}`)
    expect(code).toBe(0)
  }, 60_000)
})

/** Whether a running process has `text` in its command line. */
function processesNaming(text: string): boolean {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).some((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(text)
    } catch {
      return false
    }
  })
}

/** Runs argv on a pseudo-terminal, waits for "Postern is ready.", sends SIGHUP and says how it ended (exit code, or -N for signal N). */
const UNDER_A_TERMINAL = `
import os, pty, select, signal, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
said = b''
def read(timeout):
    global said
    if select.select([fd], [], [], timeout)[0]:
        try: said += os.read(fd, 65536)
        except OSError: time.sleep(timeout)
deadline = time.time() + 30
while b'Postern is ready.' not in said and time.time() < deadline: read(0.2)
sys.stdout.write(said.decode(errors='replace'))

os.kill(pid, signal.SIGHUP)
deadline = time.time() + 10
while time.time() < deadline:
    ended, status = os.waitpid(pid, os.WNOHANG)
    if ended:
        print('after SIGHUP: exit code', os.waitstatus_to_exitcode(status))
        sys.exit(0)
    read(0.1)
print('after SIGHUP: still running after 10 s')
os.kill(pid, signal.SIGKILL)
sys.exit(1)
`
