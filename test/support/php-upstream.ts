import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/**
 * A real PHP upstream: PHP's own built-in web server (`php -S`), which hands a script each
 * request header as `$_SERVER['HTTP_NAME']`, reading `-` and also `.` as `_` (PHP turns dots in
 * variable names into underscores), a later header of the same key replacing an earlier one. It
 * answers every request with the JSON of its `HTTP_*` entries.
 */
const ROUTER = `<?php
header('Content-Type: application/json');
$seen = [];
foreach ($_SERVER as $name => $value) if (strncmp($name, 'HTTP_', 5) === 0) $seen[$name] = $value;
$body = json_encode($seen);
// A length, not chunks: what tests read raw is then the JSON as it is.
header('Content-Length: ' . strlen($body));
echo $body;
`

export async function startPhpUpstream(): Promise<{ url: string; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'postern-php-'))
  writeFileSync(join(dir, 'router.php'), ROUTER)
  const child = spawn('php', ['-S', '127.0.0.1:0', join(dir, 'router.php')], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
  let said = ''
  const port = await new Promise<number>((resolve, reject) => {
    // "PHP 8.2.36 Development Server (http://127.0.0.1:38677) started", on stdout or stderr.
    const read = (d: Buffer) => {
      said += d.toString()
      const started = /\(http:\/\/127\.0\.0\.1:(\d+)\) started/.exec(said)
      if (started) resolve(Number(started[1]))
    }
    child.stdout!.on('data', read)
    child.stderr!.on('data', read)
    child.once('error', reject)
    child.once('exit', (code) => reject(new Error(`php -S exited with ${code}: ${said}`)))
  })
  // It logs each request; nobody reads the log, so the pipes are drained and nothing kept.
  for (const out of [child.stdout!, child.stderr!]) out.removeAllListeners('data').resume()
  child.removeAllListeners('exit')
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve()
        child.once('exit', () => resolve())
        child.kill('SIGTERM')
      }).then(() => rmSync(dir, { recursive: true, force: true })),
  }
}
