import { request as httpRequest } from 'node:http'
import { join } from 'node:path'
import { BIN, importDist } from './dist.js'
import { freePort, run, sleep, startProcess, type Started } from './processes.js'
import type { TokenSubject } from './tokens.js'

type OpenStoreModule = typeof import('../src/store/open-store.js')

export const PROJECT = 'my-project'
export const BENCH_DOMAIN = 'bench.example.com'
/** The environment bin/postern.js's shebang sets (the bench runs node on the script directly); the caller's own wins. */
export const POSTERN_ENV = { MALLOC_ARENA_MAX: '2' }

export interface Postern {
  process: Started
  dataDir: string
  configDir: string
  controlUrl: string
  gatewayPort: number
  /** `NAME.my-project.localhost:PORT`: the Host the gateway routes by. */
  hostOf(service: string): string
  cli(args: string[]): Promise<string>
  stop(): Promise<void>
}

/** `postern serve` as a user starts it, on free ports; `nodeArgs` go to node (e.g. --cpu-prof). */
export async function startPostern(dir: string, o: { nodeArgs?: string[]; serveArgs?: string[]; dataDir?: string; timeoutMs?: number; port?: number; gatewayPort?: number } = {}): Promise<Postern> {
  const dataDir = o.dataDir ?? join(dir, 'data')
  const configDir = join(dir, 'config')
  const port = o.port ?? (await freePort())
  const gatewayPort = o.gatewayPort ?? (await freePort())
  const env = { ...POSTERN_ENV, ...process.env, POSTERN_CONFIG_DIR: configDir }
  const proc = await startProcess(process.execPath, [...(o.nodeArgs ?? []), BIN, 'serve', '--data-dir', dataDir, '--port', String(port), '--gateway-port', String(gatewayPort), ...(o.serveArgs ?? [])], {
    env,
    readyText: 'Postern is ready.',
    timeoutMs: o.timeoutMs ?? 60_000,
  })
  const self: Postern = {
    process: proc,
    dataDir,
    configDir,
    controlUrl: `http://127.0.0.1:${port}`,
    gatewayPort,
    hostOf: (service) => `${service}.${PROJECT}.localhost:${gatewayPort}`,
    async cli(args) {
      const r = await run(process.execPath, [BIN, ...args], { env })
      if (r.code !== 0) throw new Error(`postern ${args.join(' ')} failed (${r.code}): ${r.stderr}`)
      return r.stdout
    },
    stop: () => proc.stop(),
  }
  return self
}

/**
 * Users written straight into the store, as the benchmark's brief allows: creating them through
 * the API would hash a password each (scrypt, ~100 ms). The running server follows the change
 * feed and knows them within a poll interval.
 */
export async function insertUsers(dataDir: string, emails: readonly string[]): Promise<TokenSubject[]> {
  const { openStore } = await importDist<OpenStoreModule>('store/open-store.js')
  const { newUid } = await importDist<typeof import('../src/core/ids.js')>('core/ids.js')
  const store = await openStore({ dataDir, clock: Date.now, onError: () => undefined })
  try {
    const now = Date.now()
    const subjects = emails.map((email) => ({ uid: newUid(), email }))
    await store.transaction(async (tx) => {
      for (const s of subjects) {
        await tx.insertUser({ email: s.email, uid: s.uid, displayName: s.email, passwordHash: null, disabled: false, createTime: now, updateTime: now })
        await tx.recordChange('user', s.email)
      }
    })
    return subjects
  } finally {
    await store.close()
  }
}

/**
 * Services svc-00000… written straight into the store (with their change records, so a running
 * server follows), `upstreamOf(i)` their upstreams, created by the owner.
 */
export async function insertServices(dataDir: string, count: number, upstreamOf: (i: number) => string, owner: string): Promise<void> {
  const { openStore } = await importDist<OpenStoreModule>('store/open-store.js')
  const store = await openStore({ dataDir, clock: Date.now, onError: () => undefined })
  try {
    const now = Date.now()
    await store.transaction(async (tx) => {
      for (let i = 0; i < count; i++) {
        const serviceId = `svc-${String(i).padStart(5, '0')}`
        await tx.insertService({
          projectId: PROJECT, serviceId, uid: `uid-${i}`, upstream: upstreamOf(i), description: '', invokerIamDisabled: false,
          customAudiences: [], strictAudience: false, browserAccess: true, useHttp2: false, timeoutSeconds: 300, labels: {}, createTime: now, updateTime: now,
          creator: `user:${owner}`, lastModifier: `user:${owner}`, etag: 'bench',
        })
        await tx.recordChange('service', `${PROJECT}/${serviceId}`)
      }
    })
  } finally {
    await store.close()
  }
}

/** One request with the Host and token given; resolves to the status code. */
export function probe(port: number, host: string, o: { token?: string; path?: string } = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: o.path ?? '/', headers: { host, ...(o.token && { authorization: `Bearer ${o.token}` }) }, agent: false }, (res) => {
      res.resume()
      res.once('end', () => resolve(res.statusCode ?? 0))
    })
    req.once('error', reject)
    req.end()
  })
}

/** Polls until a request gets `status` (the change feed is asynchronous). */
export async function awaitStatus(port: number, host: string, status: number, o: { token?: string; path?: string; timeoutMs?: number; pollMs?: number } = {}): Promise<void> {
  const deadline = Date.now() + (o.timeoutMs ?? 10_000)
  let last = 0
  while (Date.now() < deadline) {
    last = await probe(port, host, o).catch(() => 0)
    if (last === status) return
    await sleep(o.pollMs ?? 50)
  }
  throw new Error(`expected ${status} from ${host}${o.path ?? '/'} on port ${port}, got ${last}`)
}

/** `postern services proxy` with the CLI signed in as the owner (the first start did that). */
export async function startDevProxy(postern: Postern, service: string): Promise<{ process: Started; port: number }> {
  const port = await freePort()
  const proc = await startProcess(process.execPath, [BIN, 'services', 'proxy', service, '--port', String(port)], {
    env: { ...process.env, POSTERN_CONFIG_DIR: postern.configDir },
    readyText: 'Proxying to',
    readyPort: port,
    timeoutMs: 30_000,
  })
  return { process: proc, port }
}
