import type { Environment } from './environment.js'
import { TOKENS_PER_SET } from './environment.js'
import { runFixedRate, type FixedRateResult } from './fixed-rate.js'
import { probe } from './postern.js'
import { MachineMeter, Meter } from './processes.js'
import { decidedByPlane, SCENARIOS, type Scenario } from './scenarios.js'
import { median } from './startup.js'
import { runWrk, type LoadResult } from './wrk.js'

export interface LoadSettings {
  /** `postern serve --workers` and the nginx proxy's worker_processes. */
  workers: number
  /** Flags for node running postern serve (load, half-load and soak). */
  nodeArgs: string[]
  /** Environment postern serve runs with beyond the caller's (bin/postern.js's shebang sets the same). */
  env?: Record<string, string>
  rounds: number
  seconds: number
  threads: number
  connections: number
}

export interface ScenarioRun extends LoadResult {
  round: number
  /** CPU (cores) and peak RSS of the process(es) under test: the gateway, nginx proxy's worker, … */
  cpu: { cores: number; peakRssMb: number; maxProcessPeakRssMb: number }
  /** For the dev proxy: the gateway behind it. */
  gateway?: { cores: number; peakRssMb: number; maxProcessPeakRssMb: number }
  /** CPU time per request of the process(es) under test (and the gateway behind the dev proxy), µs. */
  cpuUsPerRequest: number
  upstreamCores: number
  /** CPU used by processes that are not the bench's, stolen by the hypervisor, used by wrk, and left idle, during the run (MachineMeter). */
  machine: { otherCores: number; stealCores: number; generatorCores?: number; idleCores?: number }
  problems: string[]
}

export interface ScenarioSummary {
  id: string
  label: string
  reference?: string
  rps: number
  p50: number
  p99: number
  p999: number
  cores: number
  /** Highest over rounds; summed over the processes (a --workers primary and its workers). */
  peakRssMb: number
  /** Highest over rounds of the largest single process. */
  maxProcessPeakRssMb: number
  cpuUsPerRequest: number
  gateway?: { cores: number; peakRssMb: number; maxProcessPeakRssMb: number }
  /** Median over rounds of this round's rps ÷ the reference's rps in the same round. */
  vsNginxProxy: number
  vsDirect: number
  /** Share of requests in the cold case that carried a token the gateway had not seen. */
  firstUseShare?: number
  /** Median over rounds of the CPU other processes on the machine used during the run. */
  otherCores: number
  runs: ScenarioRun[]
}

const head = (s: Scenario, env: Environment) => env.hostOf(s.requestLike ?? s.target, s.service)

/**
 * Rounds of every scenario, one after another, the order rotated each round so that drift and
 * position (what ran just before) hit all alike. The cold case gets a new token file each round
 * (never seen by the gateway), at least 10,000 tokens and 1.5× the requests the last cold run
 * made, so that every request is a signature check; a run that outpaces its set anyway is run
 * again on a larger one.
 */
export async function runLoad(env: Environment, o: LoadSettings, log: (s: string) => void): Promise<ScenarioSummary[]> {
  const runs = new Map<string, ScenarioRun[]>(SCENARIOS.map((s) => [s.id, []]))
  // Per cold scenario: the Node gateway and the nginx data plane take different numbers.
  const coldTokens = new Map<string, number>()
  const coldOf = (s: Scenario) => coldTokens.get(s.id) ?? TOKENS_PER_SET
  const sizeFrom = (s: Scenario, r: ScenarioRun) => {
    if (r.tokens) coldTokens.set(s.id, Math.max(coldOf(s), Math.ceil((r.tokens.sent * 1.5) / 1000) * 1000))
  }
  // One short unrecorded pass first: JIT, connection pools, and the gateway's per-caller state
  // (one X-Postern-Jwt-Assertion per user, reused for four minutes) as later rounds find it.
  log('warm-up: 2 s of each scenario, not recorded')
  for (const s of SCENARIOS) {
    const r = await runScenario(env, s, { ...o, seconds: 2 }, -1, s.token === 'cold' ? env.coldTokenFile(`${s.id}-warm-up`, 2_000, s.target) : undefined)
    // Size round 1's cold set from the warm-up's rate, so that it too is all first uses.
    if (s.token === 'cold') coldTokens.set(s.id, Math.max(coldOf(s), Math.ceil((r.rps * o.seconds * 1.5) / 1000) * 1000))
  }
  for (let round = 0; round < o.rounds; round++) {
    const shift = Math.floor((round * SCENARIOS.length) / o.rounds)
    const order = [...SCENARIOS.slice(shift), ...SCENARIOS.slice(0, shift)]
    log(`round ${round + 1} of ${o.rounds}`)
    for (const s of order) {
      const mintFor = (attempt: string) => {
        if (s.token !== 'cold') return undefined
        const t = performance.now()
        const file = env.coldTokenFile(`${s.id}-round-${round}${attempt}`, coldOf(s), s.target)
        log(`  minted ${coldOf(s).toLocaleString('en')} new tokens in ${((performance.now() - t) / 1000).toFixed(1)} s`)
        return file
      }
      let r = await runScenario(env, s, o, round, mintFor(''))
      sizeFrom(s, r)
      // A set the run outpaced went round again, and its repeats were warm requests: run it once
      // more on a set sized from this run (round 1's comes from the warm-up, which the first
      // decisions for a thousand callers slow down).
      if (r.tokens && r.tokens.repeats > 0) {
        log(`  ${s.label}: ${fmt((100 * r.tokens.repeats) / r.tokens.sent, 0)}% of requests reused a token; again, on more tokens`)
        r = await runScenario(env, s, o, round, mintFor('-again'))
        sizeFrom(s, r)
      }
      runs.get(s.id)!.push(r)
      log(`  ${s.label.padEnd(44)} ${fmt(r.rps, 0).padStart(7)} req/s  p50 ${fmt(r.p50)}  p99 ${fmt(r.p99)}  p99.9 ${fmt(r.p999)} ms  ${fmt(r.cpu.cores)} cores  ${fmt(r.cpuUsPerRequest, 0)} µs/req  ${fmt(r.cpu.peakRssMb, 0)} MB  (others ${fmt(r.machine.otherCores)} cores)${r.problems.length ? '  PROBLEM: ' + r.problems.join('; ') : ''}`)
    }
  }
  return SCENARIOS.map((s) => summarise(s, runs))
}

async function runScenario(env: Environment, s: Scenario, o: LoadSettings, round: number, tokenFile: string | undefined): Promise<ScenarioRun> {
  const port = env.portOf(s.target)
  const host = head(s, env)
  const token = s.token === 'warm' ? env.warmTokenFor(s.requestLike ?? s.target) : s.token === 'denied' ? env.deniedToken : undefined
  const problems: string[] = []
  // One request first, with a token outside any cold set, to check the scenario answers as it should.
  const status = await probe(port, host, { path: s.path, token: s.token === 'cold' ? env.warmTokenFor(s.target) : token }).catch(() => 0)
  if (status !== s.expect) problems.push(`pre-flight request got ${status}, expected ${s.expect}`)
  const meter = new Meter(env.pidsOf(s.target))
  // Beside the dev proxy, the gateway behind it; beside the nginx data plane's workers, the Postern deciding for them.
  const gatewayMeter = s.target === 'dev-proxy' ? new Meter(env.pidsOf('gateway')) : decidedByPlane(s.target) ? new Meter(env.planePosternPids()) : undefined
  const upstreamMeter = new Meter(env.pidsOf('upstream'))
  const machineMeter = new MachineMeter()
  const r = await runWrk({ url: `http://127.0.0.1:${port}`, host, path: s.path, token, tokenFile, threads: o.threads, connections: o.connections, seconds: o.seconds })
  const cpu = meter.read()
  const gateway = gatewayMeter?.read()
  const upstreamCores = upstreamMeter.read().cores
  const machine = machineMeter.read()
  const e = r.errors
  if (e.connect + e.read + e.write + e.timeout > 0) problems.push(`socket errors ${JSON.stringify(e)}`)
  if (s.expect === 200 && e.status > 0) problems.push(`${e.status} responses were not 2xx/3xx`)
  if (s.expect === 403 && e.status < r.requests) problems.push(`${r.requests - e.status} responses were 2xx/3xx, expected 403s`)
  const cpuUsPerRequest = ((cpu.cores + (gateway?.cores ?? 0)) * 1e6) / r.rps
  return { ...r, round, cpu, ...(gateway && { gateway }), cpuUsPerRequest, upstreamCores, machine, problems }
}

function summarise(s: Scenario, runs: Map<string, ScenarioRun[]>): ScenarioSummary {
  const mine = runs.get(s.id)!
  const perRound = (ref: string) =>
    median(mine.map((r) => r.rps / (runs.get(ref)!.find((x) => x.round === r.round)?.rps ?? NaN)))
  const m = (f: (r: ScenarioRun) => number) => median(mine.map(f))
  const cold = mine.filter((r) => r.tokens)
  return {
    id: s.id,
    label: s.label,
    ...(s.reference && { reference: s.reference }),
    rps: m((r) => r.rps),
    p50: m((r) => r.p50),
    p99: m((r) => r.p99),
    p999: m((r) => r.p999),
    cores: m((r) => r.cpu.cores),
    peakRssMb: Math.max(...mine.map((r) => r.cpu.peakRssMb)),
    maxProcessPeakRssMb: Math.max(...mine.map((r) => r.cpu.maxProcessPeakRssMb)),
    cpuUsPerRequest: m((r) => r.cpuUsPerRequest),
    ...((s.target === 'dev-proxy' || decidedByPlane(s.target)) && {
      gateway: {
        cores: m((r) => r.gateway!.cores),
        peakRssMb: Math.max(...mine.map((r) => r.gateway!.peakRssMb)),
        maxProcessPeakRssMb: Math.max(...mine.map((r) => r.gateway!.maxProcessPeakRssMb)),
      },
    }),
    vsNginxProxy: perRound(s.proxyRef),
    vsDirect: perRound(s.directRef),
    otherCores: m((r) => r.machine.otherCores),
    ...(cold.length > 0 && { firstUseShare: median(cold.map((r) => 1 - r.tokens!.repeats / Math.max(1, r.tokens!.sent))) }),
    runs: mine,
  }
}

// --- p99 added over direct at half of the maximum load -----------------------------------------

export interface HalfLoadSummary {
  rate: number
  method: string
  targets: { id: string; label: string; p50: number; p99: number; p999: number; correctedP99: number; achievedRps: number; errors: number; cores: number }[]
  /** Median over rounds of (p99 through the gateway − p99 direct) in the same round, ms. */
  addedP99: { postern: number; nginxProxy: number; bareProxy: number }
  addedP99Corrected: { postern: number; nginxProxy: number; bareProxy: number }
  runs: (FixedRateResult & { id: string; round: number; cores: number })[]
}

export const HALF_LOAD_METHOD =
  'Open-loop fixed rate (bench/fixed-rate.c, epoll): requests due at t0 + i/rate on 50 keep-alive connections, each sent at its due time on the first idle one; ' +
  'latency from the write to the last byte (p99 "from due time" also includes the wait for an idle connection). ' +
  'Rate = half of postern warm\'s median closed-loop maximum; direct, nginx proxy, the Node bare proxy and postern warm at that rate, interleaved; the first second of each run is left out.'

export async function runHalfLoad(env: Environment, o: LoadSettings & { rate: number }, log: (s: string) => void): Promise<HalfLoadSummary> {
  const targets = [
    { id: 'direct', label: 'direct', target: 'upstream' as const },
    { id: 'nginx-proxy', label: 'nginx proxy', target: 'nginx-proxy' as const },
    { id: 'node-bare-proxy', label: 'Node bare proxy (reference)', target: 'bare-proxy' as const },
    { id: 'postern-warm', label: 'postern warm', target: 'gateway' as const },
  ]
  const runs: HalfLoadSummary['runs'] = []
  for (let round = 0; round < o.rounds; round++) {
    const order = round % 2 ? [...targets].reverse() : targets
    for (const t of order) {
      const meter = new Meter(env.pidsOf(t.target))
      const r = await runFixedRate({
        port: env.portOf(t.target),
        host: t.target === 'gateway' ? env.postern.hostOf('bench') : `127.0.0.1:${env.portOf(t.target)}`,
        token: t.target === 'gateway' ? env.warmToken : undefined,
        rate: o.rate,
        seconds: o.seconds + 1,
        warmupSeconds: 1,
        connections: o.connections,
      })
      runs.push({ ...r, id: t.id, round, cores: meter.read().cores })
      log(`  ${t.label.padEnd(28)} at ${fmt(o.rate, 0)} req/s: achieved ${fmt(r.achievedRps, 0)}, p50 ${fmt(r.p50)}  p99 ${fmt(r.p99)}  p99.9 ${fmt(r.p999)} ms (from due time p99 ${fmt(r.corrected.p99)})${r.errors ? `  ${r.errors} errors` : ''}`)
    }
  }
  const of = (id: string) => runs.filter((r) => r.id === id)
  const added = (id: string, k: (r: FixedRateResult) => number) =>
    median(of(id).map((r) => k(r) - k(of('direct').find((d) => d.round === r.round)!)))
  return {
    rate: o.rate,
    method: HALF_LOAD_METHOD,
    targets: targets.map((t) => ({
      id: t.id,
      label: t.label,
      p50: median(of(t.id).map((r) => r.p50)),
      p99: median(of(t.id).map((r) => r.p99)),
      p999: median(of(t.id).map((r) => r.p999)),
      correctedP99: median(of(t.id).map((r) => r.corrected.p99)),
      achievedRps: median(of(t.id).map((r) => r.achievedRps)),
      errors: of(t.id).reduce((a, r) => a + r.errors, 0),
      cores: median(of(t.id).map((r) => r.cores)),
    })),
    addedP99: { postern: added('postern-warm', (r) => r.p99), nginxProxy: added('nginx-proxy', (r) => r.p99), bareProxy: added('node-bare-proxy', (r) => r.p99) },
    addedP99Corrected: {
      postern: added('postern-warm', (r) => r.corrected.p99),
      nginxProxy: added('nginx-proxy', (r) => r.corrected.p99),
      bareProxy: added('node-bare-proxy', (r) => r.corrected.p99),
    },
    runs,
  }
}

export function fmt(n: number, digits = 2): string {
  if (!Number.isFinite(n)) return '–'
  return n.toLocaleString('en', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

// --- the nginx data plane at half of its own maximum ---------------------------------------------

export interface PlaneHalfLoadSummary {
  rate: number
  targets: { id: string; label: string; p50: number; p99: number; achievedRps: number; errors: number }[]
  /** Median over rounds of (p99 through it − p99 direct) in the same round, ms. */
  addedP99: { nginxPlane: number; nginxProxyAuto: number }
}

/** As runHalfLoad, for the nginx data plane at half of its own warm maximum, beside direct and nginx (auto workers), all sent the data plane's request. */
export async function runPlaneHalfLoad(env: Environment, o: LoadSettings & { rate: number }, log: (s: string) => void): Promise<PlaneHalfLoadSummary> {
  const targets = [
    { id: 'direct', label: 'direct', target: 'upstream' as const },
    { id: 'nginx-proxy-auto', label: 'nginx proxy, auto workers', target: 'nginx-proxy-auto' as const },
    { id: 'nginx-plane-warm', label: 'nginx data plane warm', target: 'nginx-plane' as const },
  ]
  const runs: (FixedRateResult & { id: string; round: number })[] = []
  for (let round = 0; round < o.rounds; round++) {
    for (const t of round % 2 ? [...targets].reverse() : targets) {
      const r = await runFixedRate({
        port: env.portOf(t.target),
        host: env.hostOf('nginx-plane', 'bench'),
        token: env.warmTokenFor('nginx-plane'),
        rate: o.rate,
        seconds: o.seconds + 1,
        warmupSeconds: 1,
        connections: o.connections,
      })
      runs.push({ ...r, id: t.id, round })
      log(`  ${t.label.padEnd(28)} at ${fmt(o.rate, 0)} req/s: achieved ${fmt(r.achievedRps, 0)}, p50 ${fmt(r.p50)}  p99 ${fmt(r.p99)}  p99.9 ${fmt(r.p999)} ms${r.errors ? `  ${r.errors} errors` : ''}`)
    }
  }
  const of = (id: string) => runs.filter((r) => r.id === id)
  const added = (id: string) => median(of(id).map((r) => r.p99 - of('direct').find((d) => d.round === r.round)!.p99))
  return {
    rate: o.rate,
    targets: targets.map((t) => ({
      id: t.id,
      label: t.label,
      p50: median(of(t.id).map((r) => r.p50)),
      p99: median(of(t.id).map((r) => r.p99)),
      achievedRps: median(of(t.id).map((r) => r.achievedRps)),
      errors: of(t.id).reduce((a, r) => a + r.errors, 0),
    })),
    addedP99: { nginxPlane: added('nginx-plane-warm'), nginxProxyAuto: added('nginx-proxy-auto') },
  }
}
