import { mkdtempSync } from 'node:fs'
import { createServer as createHttpServer } from 'node:http'
import { createServer, type Server, type Socket } from 'node:net'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from '../support/cli.js'

/**
 * The CLI pointed at something that is not a Postern server answering: a port that accepts and
 * never answers (a stuck proxy, a port of something else), and a plain-HTTP server reached as
 * https://. Each ends the command with words that say what to check, never a wait without end or
 * OpenSSL's own error text.
 */
describe('the CLI and a server that does not answer as Postern does', () => {
  const sockets: Socket[] = []
  let silent: Server
  let plain: ReturnType<typeof createHttpServer>
  const port = (s: { address(): unknown }) => (s.address() as AddressInfo).port
  const configDir = () => mkdtempSync(join(tmpdir(), 'postern-unanswered-'))

  beforeAll(async () => {
    silent = createServer((s) => sockets.push(s))
    plain = createHttpServer((_req, res) => res.end('plain'))
    await Promise.all([silent, plain].map((s) => new Promise<void>((r) => s.listen(0, '127.0.0.1', r))))
  })
  afterAll(() => {
    for (const s of sockets) s.destroy()
    silent?.close()
    plain?.close()
  })

  it('a server that accepts and never answers ends the command after POSTERN_HTTP_TIMEOUT, saying so', async () => {
    const dir = configDir()
    const url = `http://127.0.0.1:${port(silent)}`
    expect((await runCli(['config', 'set', 'server', url], { configDir: dir })).code).toBe(0)
    const started = Date.now()
    const r = await runCli(['auth', 'login', '--no-browser'], { configDir: dir, env: { POSTERN_HTTP_TIMEOUT: '1' }, timeoutMs: 20_000 })
    expect(r.code, r.stderr).toBe(1)
    expect(r.stderr).toContain(`${url} did not answer within 1 s. Is it the Postern server?`)
    expect(Date.now() - started).toBeLessThan(10_000)
  })

  it('https:// typed for a plain-HTTP server is named as such', async () => {
    const dir = configDir()
    expect((await runCli(['config', 'set', 'server', `https://127.0.0.1:${port(plain)}`], { configDir: dir })).code).toBe(0)
    const r = await runCli(['auth', 'login', '--no-browser'], { configDir: dir, timeoutMs: 20_000 })
    expect(r.code, r.stderr).toBe(1)
    expect(r.stderr).toContain(`https://127.0.0.1:${port(plain)} does not speak TLS: it is plain HTTP. Use http://127.0.0.1:${port(plain)}`)
    expect(r.stderr).not.toContain('routines')
  })
})
