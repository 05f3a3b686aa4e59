import { join } from 'node:path'
import { ROOT } from './dist.js'
import { run } from './processes.js'

export interface LoadResult {
  requests: number
  seconds: number
  rps: number
  /** Latency percentiles in milliseconds. */
  p50: number
  p90: number
  p99: number
  p999: number
  errors: { connect: number; read: number; write: number; status: number; timeout: number }
  /** Token use in the cold case: requests sent, distinct tokens, requests that reused a token. */
  tokens?: { sent: number; distinct: number; repeats: number }
}

export interface WrkOptions {
  url: string
  threads: number
  connections: number
  seconds: number
  host?: string
  path?: string
  token?: string
  tokenFile?: string
}

const SCRIPT = join(ROOT, 'bench', 'wrk', 'bench.lua')

/** One closed-loop wrk run; the Lua script reports exact percentiles from wrk's histogram. */
export async function runWrk(o: WrkOptions): Promise<LoadResult> {
  const env = {
    ...process.env,
    BENCH_HOST: o.host ?? '',
    BENCH_PATH: o.path ?? '/',
    BENCH_TOKEN: o.token ?? '',
    BENCH_TOKENS: o.tokenFile ?? '',
    BENCH_THREADS: String(o.threads),
  }
  const args = ['-t', String(o.threads), '-c', String(o.connections), '-d', `${o.seconds}s`, '--timeout', '10s', '-s', SCRIPT, o.url + (o.path ?? '/')]
  const r = await run('wrk', args, { env, timeoutMs: (o.seconds + 60) * 1000 })
  const line = r.stdout.split('\n').find((l) => l.startsWith('BENCH_JSON '))
  if (r.code !== 0 || !line) throw new Error(`wrk failed (${r.code}): ${r.stderr}\n${r.stdout}`)
  const j = JSON.parse(line.slice('BENCH_JSON '.length)) as {
    requests: number
    duration_us: number
    errors: LoadResult['errors']
    latency_us: { p50: number; p90: number; p99: number; p999: number }
    tokens: { sent: number; distinct: number; repeats: number }
  }
  const seconds = j.duration_us / 1e6
  return {
    requests: j.requests,
    seconds,
    rps: j.requests / seconds,
    p50: j.latency_us.p50 / 1000,
    p90: j.latency_us.p90 / 1000,
    p99: j.latency_us.p99 / 1000,
    p999: j.latency_us.p999 / 1000,
    errors: j.errors,
    ...(j.tokens.distinct > 0 && { tokens: j.tokens }),
  }
}
