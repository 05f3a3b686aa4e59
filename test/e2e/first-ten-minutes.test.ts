import { mkdirSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { freePort } from '../support/ports.js'
import { runTranscript } from '../support/transcript.js'

/**
 * A newcomer's first ten minutes, from a fresh clone and an empty HOME, as a transcript:
 * test/transcripts/first-ten-minutes.txt reads like the terminal session it checks.
 */
const CHECKOUT = fileURLToPath(new URL('../../', import.meta.url))

describe("a newcomer's first ten minutes", () => {
  it('runs as the transcript says, from git clone to a restart', async () => {
    const home = mkdtempSync(join(tmpdir(), 'postern-newcomer-'))
    mkdirSync(home, { recursive: true })
    // Only what a fresh login shell has: no postern, no npm settings, no Postern config or data.
    const env = {
      HOME: home,
      PATH: '/usr/local/bin:/usr/bin:/bin',
      LANG: 'C.UTF-8',
      CHECKOUT,
      PORT: String(await freePort()),
      GATEWAY_PORT: String(await freePort()),
      npm_config_update_notifier: 'false',
    }
    const { log } = await runTranscript(join(CHECKOUT, 'test/transcripts/first-ten-minutes.txt'), env, { cwd: home })
    expect(log.length).toBeGreaterThan(0)
  }, 900_000)
})
