import { execFileSync, spawn } from 'node:child_process'
import { existsSync, statSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/**
 * Latency at a fixed rate, open loop: fixed-rate.c, compiled here on first use (with Debian's gcc,
 * which node-gyp needs anyway). Its header says how it sends, what it measures, and why it is C.
 */
export interface FixedRateOptions {
  port: number
  host: string
  path?: string
  token?: string
  rate: number
  seconds: number
  /** Leading seconds left out of the statistics (connection set-up, JIT). */
  warmupSeconds?: number
  connections: number
}

export interface FixedRateResult {
  rate: number
  achievedRps: number
  requests: number
  /** Non-2xx responses, and requests never answered. */
  errors: number
  /** Milliseconds, from the write. */
  p50: number
  p99: number
  p999: number
  /** Milliseconds, from the due time (wrk2's corrected latency). */
  corrected: { p50: number; p99: number; p999: number }
}

const SOURCE = fileURLToPath(new URL('../../bench/fixed-rate.c', import.meta.url))
const BINARY = fileURLToPath(new URL('./fixed-rate', import.meta.url))

function generator(): string {
  if (!existsSync(BINARY) || statSync(BINARY).mtimeMs < statSync(SOURCE).mtimeMs) {
    try {
      execFileSync('cc', ['-O2', '-Wall', '-o', BINARY, SOURCE, '-lm'], { stdio: ['ignore', 'inherit', 'inherit'] })
    } catch (e) {
      throw new Error(`bench: cannot build the fixed-rate generator (${(e as Error).message}); apt-get install -y gcc`)
    }
  }
  return BINARY
}

export async function runFixedRate(o: FixedRateOptions): Promise<FixedRateResult> {
  const request = `GET ${o.path ?? '/'} HTTP/1.1\r\nHost: ${o.host}\r\n${o.token ? `Authorization: Bearer ${o.token}\r\n` : ''}\r\n`
  const args = [o.port, o.rate, o.seconds, o.warmupSeconds ?? 1, o.connections].map(String)
  const child = spawn(generator(), args, { stdio: ['pipe', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr.on('data', (d: Buffer) => (err += d.toString()))
  child.stdin.end(request, 'latin1')
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  if (code !== 0) throw new Error(err.trim() || `fixed-rate exited with ${code}`)
  return JSON.parse(out) as FixedRateResult
}
