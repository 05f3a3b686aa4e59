import type { Environment } from './environment.js'
import { TOKENS_PER_SET } from './environment.js'
import { Meter, statusKb, treeOf } from './processes.js'
import { runWrk, type LoadResult } from './wrk.js'

export interface SoakResult {
  seconds: number
  load: string
  result: LoadResult
  cores: number
  /** VmHWM over the whole soak (reset at its start), largest gateway process. */
  peakRssMb: number
  /** Gateway RSS (MB), largest process, sampled every `everySeconds` s from the start of the load. */
  everySeconds: number
  rssMb: number[]
  /** Lowest and highest sample of each whole minute: RSS saws up and down with V8's major GCs. */
  minutes: { minMb: number; maxMb: number }[]
  /** Floor (lowest sample) of the last minute minus that of the second minute. */
  floorGrowthMb: number
  /** Least-squares slope of RSS after the first minute, MB per minute. */
  slopeMbPerMinute: number
  /** The floor rising by more than 5 MB from minute 2 to the last minute counts as growth. */
  grows: boolean
}

/**
 * A long run at a steady load (wrk, closed loop, the bench's threads and connections) through the
 * gateway, rotating over 10,000 tokens of the 1,000 users: the first pass verifies each, the rest
 * is the steady state of a gateway whose callers hold hour-long tokens. RSS is read every second;
 * growth is judged on the post-GC floor, since the peaks follow the garbage collector.
 */
export async function runSoak(env: Environment, o: { seconds: number; threads: number; connections: number }, log: (s: string) => void): Promise<SoakResult> {
  const everySeconds = 1
  const pids = treeOf(env.postern.process.pid)
  const tokenFile = env.coldTokenFile('soak', TOKENS_PER_SET)
  const rssMb: number[] = []
  const meter = new Meter(pids)
  const sample = () => rssMb.push(Math.max(...pids.map((pid) => statusKb(pid, 'VmRSS'))) / 1024)
  sample()
  const timer = setInterval(() => {
    sample()
    if ((rssMb.length - 1) % 60 === 0) log(`  ${(rssMb.length - 1) * everySeconds} s: gateway RSS ${rssMb.at(-1)!.toFixed(0)} MB (lowest in the last minute ${Math.min(...rssMb.slice(-60)).toFixed(0)}, highest ${Math.max(...rssMb.slice(-60)).toFixed(0)})`)
  }, everySeconds * 1000)
  let result: LoadResult
  try {
    result = await runWrk({ url: `http://127.0.0.1:${env.postern.gatewayPort}`, host: env.postern.hostOf('bench'), tokenFile, threads: o.threads, connections: o.connections, seconds: o.seconds })
  } finally {
    clearInterval(timer)
  }
  sample()
  const used = meter.read()
  const perMinute = 60 / everySeconds
  const minutes: SoakResult['minutes'] = []
  for (let i = 0; i + perMinute <= rssMb.length; i += perMinute) {
    const m = rssMb.slice(i, i + perMinute)
    minutes.push({ minMb: Math.min(...m), maxMb: Math.max(...m) })
  }
  const after = rssMb.slice(perMinute)
  const xs = after.map((_, i) => ((i + perMinute + 1) * everySeconds) / 60)
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length
  const my = after.reduce((a, b) => a + b, 0) / after.length
  const slopeMbPerMinute = xs.reduce((a, x, i) => a + (x - mx) * (after[i]! - my), 0) / xs.reduce((a, x) => a + (x - mx) ** 2, 0)
  const floorGrowthMb = minutes.length >= 3 ? minutes.at(-1)!.minMb - minutes[1]!.minMb : NaN
  return {
    seconds: o.seconds,
    load: `wrk -t${o.threads} -c${o.connections}, 10,000 tokens of 1,000 users in rotation, service bench`,
    result,
    cores: used.cores,
    peakRssMb: used.maxProcessPeakRssMb,
    everySeconds,
    rssMb,
    minutes,
    floorGrowthMb,
    slopeMbPerMinute,
    grows: !(floorGrowthMb <= 5),
  }
}
