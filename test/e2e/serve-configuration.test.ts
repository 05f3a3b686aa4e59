import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { runCli } from '../support/cli.js'

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

  it('refuses a change-poll interval that is not a number, and says what it expects', async () => {
    const r = await serve(['--port', '0', '--gateway-port', '0'], { POSTERN_CHANGE_POLL_MS: 'abc' })
    expect(r.code).toBe(2)
    expect(r.stderr).toContain("POSTERN_CHANGE_POLL_MS: expected milliseconds from 10 to 60000, got 'abc'.")
    expect(r.stdout).not.toMatch(/listening|Console/i)
  })

  it('names every wrong value at once: flags and environment alike', async () => {
    const r = await serve(['--port', 'seventy', '--workers', '0', '--tls-cert', 'cert.pem'], { POSTERN_CHANGE_POLL_MS: '1', POSTERN_LOG_LEVEL: 'loud' })
    expect(r.code).toBe(2)
    for (const problem of [
      "--port: 'seventy' is not a port number.",
      "--workers: expected 1 to 64, got '0'.",
      '--tls-cert and --tls-key go together.',
      "POSTERN_CHANGE_POLL_MS: expected milliseconds from 10 to 60000, got '1'.",
      "POSTERN_LOG_LEVEL: expected one of debug, info, warn, error, got 'loud'.",
    ]) {
      expect(r.stderr).toContain(problem)
    }
  })
})
