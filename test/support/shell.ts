import { spawn, type ChildProcess } from 'node:child_process'
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BIN } from './cli.js'

/** A directory holding a `postern` command, so tests can run shell lines exactly as a user types them. */
export function posternOnPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'postern-bin-'))
  const script = join(dir, 'postern')
  writeFileSync(script, `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`)
  chmodSync(script, 0o755)
  return dir
}

/** Runs one shell command line (bash -c) with `postern` on PATH and the given config dir. */
export function sh(line: string, o: { configDir: string; binDir: string; timeoutMs?: number }): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', line], {
      env: { ...process.env, PATH: `${o.binDir}:${process.env.PATH}`, POSTERN_CONFIG_DIR: o.configDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d))
    child.stderr.on('data', (d: Buffer) => (stderr += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 30_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code: code ?? -1, stdout, stderr })
    })
  })
}

/**
 * Starts a long-running shell command line (e.g. `postern services proxy`) and resolves with the
 * process and the first line it prints on stdout (its banner, once it listens); rejects if it
 * exits first, with what it said on stderr. The caller stops it.
 */
export function shBackground(line: string, o: { configDir: string; binDir: string }): Promise<{ child: ChildProcess; banner: string }> {
  const child = spawn('bash', ['-c', `exec ${line}`], {
    env: { ...process.env, PATH: `${o.binDir}:${process.env.PATH}`, POSTERN_CONFIG_DIR: o.configDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  return new Promise((resolve, reject) => {
    let out = ''
    let err = ''
    child.stderr.on('data', (d: Buffer) => (err += d))
    child.stdout.on('data', (d: Buffer) => {
      out += d
      if (out.includes('\n')) resolve({ child, banner: out })
    })
    child.once('exit', (c) => reject(new Error(`${line} exited ${c}: ${err}`)))
  })
}
