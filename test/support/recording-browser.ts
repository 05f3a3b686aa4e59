import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** A $BROWSER that records the URL it is asked to open instead of opening it. */
export function recordingBrowser(): { command: string; url: () => string | undefined } {
  const dir = mkdtempSync(join(tmpdir(), 'postern-browser-'))
  const script = join(dir, 'record-url.sh')
  const file = join(dir, 'url.txt')
  writeFileSync(script, `#!/bin/sh\nprintf '%s\\n' "$1" > '${file}'\n`)
  chmodSync(script, 0o755)
  return { command: script, url: () => (existsSync(file) ? readFileSync(file, 'utf8').trim() || undefined : undefined) }
}
