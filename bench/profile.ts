import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { summariseProfile, type ProfileSummary } from './cpu-profile.js'
import { startEnvironment } from './environment.js'
import { sleep } from './processes.js'
import { runWrk, type LoadResult } from './wrk.js'

export interface ProfileRun {
  load: 'warm' | 'cold' | 'node-bare-proxy'
  /** The samples summarised: milliseconds after the profile's start. */
  window: { fromMs: number; toMs: number }
  result: LoadResult
  summary: ProfileSummary
}

/**
 * The gateway under `node --cpu-prof` (1 ms sampling; one process, --workers 1) with the warm
 * load, a pause, then the cold load (new tokens); and the Node bare proxy under the warm load's
 * shape, for what Node itself costs. Each summary keeps only its own load's samples, minus the
 * first second. The raw .cpuprofile files stay in the temp dir (open them in Chrome DevTools).
 */
export async function runProfiles(dir: string, o: { seconds: number; threads: number; connections: number }, log: (s: string) => void): Promise<{ files: string[]; runs: ProfileRun[] }> {
  const profDir = join(dir, 'cpu-profile')
  const prof = ['--cpu-prof', `--cpu-prof-dir=${profDir}`]
  const env = await startEnvironment(join(dir, 'profiled'), { posternNodeArgs: prof, bareNodeArgs: prof, log })
  const windows: { load: ProfileRun['load']; pid: number; fromMs: number; toMs: number; result: LoadResult }[] = []
  try {
    const gateway = { url: `http://127.0.0.1:${env.postern.gatewayPort}`, host: env.postern.hostOf('bench') }
    const loads = [
      { load: 'warm' as const, ...gateway, token: env.warmToken },
      { load: 'cold' as const, ...gateway, tokenFile: env.coldTokenFile('profile-cold', Math.max(10_000, o.seconds * 4_000)) },
      { load: 'node-bare-proxy' as const, url: `http://127.0.0.1:${env.bareProxy.port}` },
    ]
    for (const l of loads) {
      const spawnedAt = l.load === 'node-bare-proxy' ? env.bareProxy.spawnedAt : env.postern.process.spawnedAt
      const fromMs = performance.now() - spawnedAt + 1000
      const result = await runWrk({ ...l, threads: o.threads, connections: o.connections, seconds: o.seconds })
      windows.push({ load: l.load, pid: l.load === 'node-bare-proxy' ? env.bareProxy.pid : env.postern.process.pid, fromMs, toMs: performance.now() - spawnedAt, result })
      log(`  profiled ${l.load}: ${Math.round(result.rps)} req/s (with the profiler on)`)
      await sleep(1000)
    }
  } finally {
    await env.stop()
  }
  const files = readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(profDir, f))
  const fileOf = (pid: number) => {
    const f = files.find((x) => x.includes(`.${pid}.`))
    if (!f) throw new Error(`no .cpuprofile for pid ${pid} in ${profDir}`)
    return f
  }
  return { files, runs: windows.map((w) => ({ load: w.load, window: { fromMs: w.fromMs, toMs: w.toMs }, result: w.result, summary: summariseProfile(fileOf(w.pid), 30, w) })) }
}
