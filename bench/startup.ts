import { cpSync } from 'node:fs'
import { createServer } from 'node:http'
import { join } from 'node:path'
import { importDist } from './dist.js'
import { freePort } from './processes.js'
import { awaitStatus, insertServices, startPostern } from './postern.js'
import { serverSigningKey, TokenMint } from './tokens.js'

type OpenStoreModule = typeof import('../src/store/open-store.js')

export interface StartupSample {
  services: number
  /** Spawn to 'Postern is ready.' */
  readyMs: number
  /** Spawn to the first 200 through the gateway. */
  firstRequestMs: number
}

export interface StartupResult {
  services: number
  baseline: { readyMs: number; firstRequestMs: number }
  large: { readyMs: number; firstRequestMs: number }
  ratio: { readyMs: number; firstRequestMs: number }
  samples: StartupSample[]
}

/**
 * Gateway start-up with 10,000 services against a store with one, alternately in the same run.
 * Both data dirs come from one first start (organization, owner, signing key), copied before the
 * services are inserted, so they differ only by the services. Every timed start is a restart
 * (no bootstrap). The first request carries the owner's token to svc-00000, so it includes
 * building the route table, verifying the token and minting the first X-Postern-Jwt-Assertion.
 */
export async function runStartup(dir: string, o: { services?: number; repeats?: number; log?: (s: string) => void } = {}): Promise<StartupResult> {
  const count = o.services ?? 10_000
  const log = o.log ?? (() => undefined)
  const upstream = createServer((_req, res) => res.end('ok\n'))
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve))
  const upstreamUrl = `http://127.0.0.1:${(upstream.address() as { port: number }).port}`
  try {
    const first = await startPostern(join(dir, 'first'))
    await first.stop()
    const { openStore } = await importDist<OpenStoreModule>('store/open-store.js')
    const dirs = { 1: join(dir, 'data-1'), [count]: join(dir, `data-${count}`) } as Record<number, string>
    let owner = { uid: '', email: 'owner@example.com' }
    log(`  inserting ${count.toLocaleString('en')} services …`)
    for (const n of [1, count]) {
      cpSync(first.dataDir, dirs[n]!, { recursive: true })
      const store = await openStore({ dataDir: dirs[n]!, clock: Date.now, onError: () => undefined })
      try {
        const record = await store.getUser(owner.email)
        if (!record) throw new Error('startup: no owner in the store')
        owner = { uid: record.uid, email: record.email }
      } finally {
        await store.close()
      }
      await insertServices(dirs[n]!, n, () => upstreamUrl, owner.email)
    }
    const samples: StartupSample[] = []
    for (let r = 0; r < (o.repeats ?? 3); r++) {
      for (const n of [1, count]) {
        const s = await timeStart(join(dir, `run-${r}-${n}`), dirs[n]!, n, owner)
        samples.push(s)
        log(`  start ${r + 1}, ${n.toLocaleString('en')} service(s): ready in ${s.readyMs.toFixed(0)} ms, first request answered at ${s.firstRequestMs.toFixed(0)} ms`)
      }
    }
    const med = (n: number, k: 'readyMs' | 'firstRequestMs') => median(samples.filter((s) => s.services === n).map((s) => s[k]))
    const baseline = { readyMs: med(1, 'readyMs'), firstRequestMs: med(1, 'firstRequestMs') }
    const large = { readyMs: med(count, 'readyMs'), firstRequestMs: med(count, 'firstRequestMs') }
    return { services: count, baseline, large, ratio: { readyMs: large.readyMs / baseline.readyMs, firstRequestMs: large.firstRequestMs / baseline.firstRequestMs }, samples }
  } finally {
    upstream.close()
  }
}

async function timeStart(runDir: string, dataDir: string, services: number, owner: { uid: string; email: string }): Promise<StartupSample> {
  const signer = await serverSigningKey(dataDir)
  const port = await freePort()
  const gatewayPort = await freePort()
  const token = new TokenMint(signer, `http://127.0.0.1:${port}`, [owner]).mint(1)[0]!
  const t0 = performance.now()
  const p = await startPostern(runDir, { dataDir, port, gatewayPort })
  const readyMs = performance.now() - t0
  try {
    await awaitStatus(gatewayPort, p.hostOf('svc-00000'), 200, { token, timeoutMs: 30_000, pollMs: 5 })
    return { services, readyMs, firstRequestMs: performance.now() - t0 }
  } finally {
    await p.stop()
  }
}

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b)
  if (s.length === 0) return NaN
  const mid = Math.floor(s.length / 2)
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}
