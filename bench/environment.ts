import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startCaddy, startCopy, startProxy, startUpstream, type Nginx } from './nginx.js'
import { awaitStatus, BENCH_DOMAIN, insertServices, insertUsers, startDevProxy, startPostern, type Postern } from './postern.js'
import { childrenOf, freePort, sleep, startProcess, treeOf, type Started } from './processes.js'
import type { Target } from './scenarios.js'
import { serverSigningKey, TokenMint } from './tokens.js'

export const USERS = 1_000
export const TOKENS_PER_SET = 10_000
/** Services the nginx data plane carries beside the one measured. */
export const PLANE_SERVICES = 10_000

/** Everything the load scenarios talk to, started once and shared by every round. */
export interface Environment {
  dir: string
  upstream: Nginx
  nginxProxy: Nginx
  bareProxy: Started & { port: number }
  postern: Postern
  /** A second Postern, `--data-plane nginx`: nginx (worker_processes auto) carries the bytes. */
  nginxPlane: Postern
  devProxy: { process: Started; port: number }
  warmToken: string
  deniedToken: string
  mint: TokenMint
  /** The warm token of the Postern behind a target (each Postern has its own signing key). */
  warmTokenFor(target: Target): string
  /** Writes `count` tokens never used before to a file for wrk (round-robin over the 1,000 users), for the Postern behind `target`. */
  coldTokenFile(name: string, count: number, target?: Target): string
  /** The Host a scenario's requests carry. */
  hostOf(target: Target, service?: string): string
  portOf(target: Target): number
  /** The processes whose CPU and RSS a scenario reports. */
  pidsOf(target: Target): number[]
  /** The Postern process deciding for the nginx data plane (without its nginx). */
  planePosternPids(): number[]
  stop(): Promise<void>
}

/**
 * `workers` goes to `postern serve --workers` and to the nginx proxy's worker_processes, so the
 * two proxies get the same number of processes; the upstream and the Node bare proxy keep one.
 */
export async function startEnvironment(dir: string, o: { workers?: number; posternNodeArgs?: string[]; bareNodeArgs?: string[]; log?: (s: string) => void } = {}): Promise<Environment> {
  const log = o.log ?? (() => undefined)
  const stops: (() => Promise<void>)[] = []
  try {
    const upstream = await startUpstream(join(dir, 'nginx-upstream'), await freePort())
    stops.push(() => upstream.stop())
    const nginxProxy = await startProxy(join(dir, 'nginx-proxy'), await freePort(), upstream.port, o.workers ?? 1)
    stops.push(() => nginxProxy.stop())
    const nginxProxyAuto = await startProxy(join(dir, 'nginx-proxy-auto'), await freePort(), upstream.port, 'auto')
    stops.push(() => nginxProxyAuto.stop())
    const caddy = await startCaddy(join(dir, 'caddy'), await freePort(), upstream.port)
    stops.push(() => caddy.stop())
    const barePort = await freePort()
    const bare = await startProcess(process.execPath, [...(o.bareNodeArgs ?? []), fileURLToPath(new URL('./bare-proxy.js', import.meta.url)), String(barePort), `http://127.0.0.1:${upstream.port}`], { readyText: 'bare proxy ready', readyPort: barePort })
    stops.push(() => bare.stop())
    log('  starting postern serve …')
    const postern = await startPostern(join(dir, 'postern'), { nodeArgs: o.posternNodeArgs, serveArgs: o.workers && o.workers > 1 ? ['--workers', String(o.workers)] : [] })
    stops.push(() => postern.stop())
    const upstreamUrl = `http://127.0.0.1:${upstream.port}`
    await postern.cli(['services', 'create', 'bench', '--upstream', upstreamUrl])
    await postern.cli(['services', 'create', 'bench-public', '--upstream', upstreamUrl, '--allow-unauthenticated'])
    await postern.cli(['services', 'add-iam-policy-binding', 'bench', `--member=domain:${BENCH_DOMAIN}`, '--role=roles/run.invoker'])
    log(`  inserting ${USERS.toLocaleString('en')} users …`)
    const emails = Array.from({ length: USERS }, (_, i) => `user${String(i).padStart(4, '0')}@${BENCH_DOMAIN}`)
    const users = await insertUsers(postern.dataDir, [...emails, 'outsider@elsewhere.example.org'])
    const outsider = users.pop()!
    const signer = await serverSigningKey(postern.dataDir)
    const mint = new TokenMint(signer, postern.controlUrl, users)
    const warmToken = mint.mint(1)[0]!
    const deniedToken = new TokenMint(signer, postern.controlUrl, [outsider]).mint(1)[0]!
    await awaitStatus(postern.gatewayPort, postern.hostOf('bench'), 200, { token: warmToken })
    await awaitStatus(postern.gatewayPort, postern.hostOf('bench'), 403, { token: deniedToken })
    const devProxy = await startDevProxy(postern, 'bench')
    stops.push(() => devProxy.process.stop())
    log('  starting postern serve --data-plane nginx …')
    const nginxPlane = await startPostern(join(dir, 'postern-nginx'), { nodeArgs: o.posternNodeArgs, serveArgs: ['--data-plane', 'nginx'] })
    stops.push(() => nginxPlane.stop())
    await nginxPlane.cli(['services', 'create', 'bench', '--upstream', upstreamUrl])
    await nginxPlane.cli(['services', 'add-iam-policy-binding', 'bench', `--member=domain:${BENCH_DOMAIN}`, '--role=roles/run.invoker'])
    // Beside it, as many services as the start-up goal's store holds: what a request costs must
    // not grow with them (nginx once compared a block name per service on every request).
    log(`  adding ${PLANE_SERVICES.toLocaleString('en')} services to the data plane …`)
    await insertServices(nginxPlane.dataDir, PLANE_SERVICES, (i) => `http://127.0.0.1:${10_000 + i}`, 'owner@example.com')
    await untilReloaded(join(nginxPlane.dataDir, 'nginx', 'nginx.conf'), `uid_${PLANE_SERVICES - 1}`)
    const planeMint = new TokenMint(await serverSigningKey(nginxPlane.dataDir), nginxPlane.controlUrl, await insertUsers(nginxPlane.dataDir, emails))
    const planeWarmToken = planeMint.mint(1)[0]!
    await awaitStatus(nginxPlane.gatewayPort, nginxPlane.hostOf('bench'), 200, { token: planeWarmToken })
    // The same configuration on one worker, on a port of its own, asking the same Postern.
    const planeOne = await startCopy(join(dir, 'nginx-plane-one'), join(nginxPlane.dataDir, 'nginx', 'nginx.conf'), { fromPort: nginxPlane.gatewayPort, port: await freePort(), workers: 1 })
    stops.push(() => planeOne.stop())
    /** nginx's workers under the data plane's master, which is postern serve's child. */
    const planeNginx = () => childrenOf(nginxPlane.process.pid).flatMap((pid) => childrenOf(pid))
    const planePostern = () => treeOf(nginxPlane.process.pid).filter((pid) => pid === nginxPlane.process.pid)
    const env: Environment = {
      dir,
      upstream,
      nginxProxy,
      bareProxy: Object.assign(bare, { port: barePort }),
      postern,
      devProxy,
      warmToken,
      deniedToken,
      mint,
      nginxPlane,
      warmTokenFor: (target) => (target === 'nginx-plane' ? planeWarmToken : warmToken),
      coldTokenFile(name, count, target) {
        const file = join(dir, `${name}.tokens`)
        writeFileSync(file, (target === 'nginx-plane' ? planeMint : mint).mint(count).join('\n') + '\n')
        return file
      },
      hostOf(target, service) {
        if (target === 'gateway') return postern.hostOf(service!)
        if (target === 'nginx-plane') return nginxPlane.hostOf(service!)
        return `127.0.0.1:${env.portOf(target)}`
      },
      portOf(target) {
        switch (target) {
          case 'upstream': return upstream.port
          case 'nginx-proxy': return nginxProxy.port
          case 'nginx-proxy-auto': return nginxProxyAuto.port
          case 'nginx-plane': return nginxPlane.gatewayPort
          case 'nginx-plane-one': return planeOne.port
          case 'caddy': return caddy.port
          case 'bare-proxy': return barePort
          case 'gateway': return postern.gatewayPort
          case 'dev-proxy': return devProxy.port
        }
      },
      pidsOf(target) {
        switch (target) {
          case 'upstream': return upstream.workers()
          case 'nginx-proxy': return nginxProxy.workers()
          case 'nginx-proxy-auto': return nginxProxyAuto.workers()
          // nginx's workers; postern serve's own figures are reported beside them (load.ts).
          case 'nginx-plane': return planeNginx()
          case 'nginx-plane-one': return planeOne.workers()
          case 'caddy': return [caddy.pid]
          case 'bare-proxy': return [bare.pid]
          case 'gateway': return treeOf(postern.process.pid)
          case 'dev-proxy': return [devProxy.process.pid]
        }
      },
      planePosternPids: planePostern,
      async stop() {
        for (const stop of stops.reverse()) await stop().catch(() => undefined)
      },
    }
    return env
  } catch (err) {
    for (const stop of stops.reverse()) await stop().catch(() => undefined)
    throw err
  }
}

/** Once Postern has rewritten nginx's configuration to hold `text`, and nginx's new workers have had time to take over. */
async function untilReloaded(config: string, text: string): Promise<void> {
  const deadline = Date.now() + 60_000
  while (!readFileSync(config, 'utf8').includes(text)) {
    if (Date.now() > deadline) throw new Error(`nginx's configuration did not come to hold ${text} within a minute`)
    await sleep(200)
  }
  await sleep(2_000)
}
