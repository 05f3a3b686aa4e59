import type { ProfileRun } from './profile.js'
import type { InProcessReport } from './in-process.js'
import { fmt, type HalfLoadSummary, type LoadSettings, type PlaneHalfLoadSummary, type ScenarioRun, type ScenarioSummary } from './load.js'
import type { SoakResult } from './soak.js'
import type { InstructionsResult } from './instructions.js'
import type { RenewalResult } from './renewal.js'
import type { StartupResult } from './startup.js'
import { median } from './startup.js'

export interface BenchReport {
  date: string
  command: string
  machine: { cpus: number; model: string; node: string; nginx: string; wrk: string; loadAverageAtStart: number[] }
  settings: LoadSettings
  scenarios?: ScenarioSummary[]
  /** Median over rounds of postern cold ÷ postern warm in the same round. */
  coldVsWarm?: number
  halfLoad?: HalfLoadSummary
  /** Median over rounds of the nginx data plane cold ÷ its warm in the same round. */
  nginxPlaneColdVsWarm?: number
  nginxPlaneHalfLoad?: PlaneHalfLoadSummary
  /** One RSA-2048 signature check by this machine's OpenSSL, in µs (rsa-check.ts): what a new token costs nginx at the least. */
  rsaCheckUs?: number
  inProcess?: InProcessReport
  startup?: StartupResult
  renewal?: RenewalResult
  instructions?: InstructionsResult
  soak?: SoakResult
  profiles?: { files: string[]; runs: ProfileRun[] }
  goals: Goal[]
}

export interface Goal {
  goal: string
  measured: string
  met: boolean | undefined
  command: string
}

export function coldVsWarm(scenarios: ScenarioSummary[], prefix: 'postern' | 'nginx-plane' = 'postern'): number {
  const warm = scenarios.find((s) => s.id === `${prefix}-warm`)!
  const cold = scenarios.find((s) => s.id === `${prefix}-cold`)!
  return median(cold.runs.map((r) => r.rps / (warm.runs.find((w) => w.round === r.round)?.rps ?? NaN)))
}

const GATEWAY_SCENARIOS = ['postern-warm', 'postern-warm-64k', 'postern-cold', 'postern-public', 'postern-denied']

export function judgeGoals(r: Omit<BenchReport, 'goals'>): Goal[] {
  const goals: Goal[] = []
  const cmd = 'npm run bench'
  const s = r.scenarios
  const find = (id: string) => s?.find((x) => x.id === id)
  const warm = find('postern-warm')
  goals.push({
    goal: 'postern warm ≥ 0.8× nginx proxy throughput',
    measured: warm ? `${fmt(warm.vsNginxProxy)}× (${fmt(warm.rps, 0)} vs ${fmt(find('nginx-proxy')!.rps, 0)} req/s); Node bare proxy ${fmt(find('node-bare-proxy')!.vsNginxProxy)}×` : 'not run',
    met: warm ? warm.vsNginxProxy >= 0.8 : undefined,
    command: cmd,
  })
  const h = r.halfLoad
  goals.push({
    goal: 'p99 added over direct ≤ 1 ms at half of the maximum load',
    measured: h ? `+${fmt(h.addedP99.postern)} ms at ${fmt(h.rate, 0)} req/s (nginx proxy +${fmt(h.addedP99.nginxProxy)} ms, Node bare proxy +${fmt(h.addedP99.bareProxy)} ms)` : 'not run',
    met: h ? h.addedP99.postern <= 1 : undefined,
    command: cmd,
  })
  goals.push({
    goal: 'postern cold ≥ 0.5× postern warm',
    measured: r.coldVsWarm !== undefined ? `${fmt(r.coldVsWarm)}× (${fmt(find('postern-cold')!.rps, 0)} vs ${fmt(warm!.rps, 0)} req/s, in the median round ${fmt(100 * (find('postern-cold')!.firstUseShare ?? 0), 0)}% of cold requests carried a token the gateway had not seen)` : 'not run',
    met: r.coldVsWarm !== undefined ? r.coldVsWarm >= 0.5 : undefined,
    command: cmd,
  })
  // Judged per gateway process (with --workers N each worker is a gateway); the sum is in the table.
  const rss = s ? s.filter((x) => GATEWAY_SCENARIOS.includes(x.id)).map((x) => ({ id: x.id, mb: x.maxProcessPeakRssMb })) : []
  const dev = find('dev-proxy')
  if (dev?.gateway) rss.push({ id: 'dev-proxy (gateway)', mb: dev.gateway.maxProcessPeakRssMb })
  if (r.soak) rss.push({ id: `soak (${r.soak.seconds} s)`, mb: r.soak.peakRssMb })
  const worst = rss.reduce((a, b) => (b.mb > a.mb ? b : a), { id: '', mb: 0 })
  goals.push({
    goal: 'gateway peak RSS ≤ 150 MB in every scenario',
    measured: rss.length ? `highest ${fmt(worst.mb, 0)} MB (${worst.id}); ${rss.map((x) => `${x.id} ${fmt(x.mb, 0)}`).join(', ')}` : 'not run',
    met: rss.length ? worst.mb <= 150 : undefined,
    command: cmd,
  })
  goals.push({
    goal: 'no RSS growth over a 5-minute soak at a steady load',
    measured: r.soak
      ? `post-GC floor ${fmt(r.soak.minutes[1]?.minMb ?? NaN, 0)} MB in minute 2 → ${fmt(r.soak.minutes.at(-1)?.minMb ?? NaN, 0)} MB in minute ${r.soak.minutes.length} (${r.soak.floorGrowthMb >= 0 ? '+' : ''}${fmt(r.soak.floorGrowthMb, 1)} MB); peaks ${r.soak.minutes.map((m) => fmt(m.maxMb, 0)).join(', ')} MB; ${fmt(r.soak.result.rps, 0)} req/s`
      : 'not run (npm run bench -- --soak)',
    met: r.soak ? !r.soak.grows : undefined,
    command: 'npm run bench -- --soak',
  })
  const ip = (id: string) => r.inProcess?.cases.find((x) => x.id === id)
  const cached = ip('authorize-cached')
  const cold = ip('authorize-cold')
  const change = ip('authorize-after-change')
  goals.push({
    goal: 'decide() 1,500 members, 5 groups deep ≤ 5 µs cached',
    measured: cached ? `${fmt(cached.medianNs / 1000, 3)} µs (gateway authorize(), cache hit)` : 'not run',
    met: cached ? cached.medianNs <= 5000 : undefined,
    command: cmd,
  })
  goals.push({
    goal: 'decide() 1,500 members, 5 groups deep ≤ 200 µs cold',
    measured: cold && change ? `${fmt(cold.medianNs / 1000, 2)} µs (principalMembers + decide); ${fmt(change.medianNs / 1000, 2)} µs through the authorizer after a directory change` : 'not run',
    met: cold && change ? Math.max(cold.medianNs, change.medianNs) <= 200_000 : undefined,
    command: cmd,
  })
  const planeWarm = find('nginx-plane-warm')
  const auto = find('nginx-proxy-auto')
  const caddy = find('caddy-proxy')
  goals.push({
    goal: 'nginx data plane warm ≥ 0.9× an nginx proxy with as many workers (worker_processes auto), sent the same request',
    measured: planeWarm && auto
      ? `${fmt(planeWarm.vsNginxProxy)}× (${fmt(planeWarm.rps, 0)} vs ${fmt(auto.rps, 0)} req/s); against the one-worker nginx proxy ${fmt(planeWarm.rps / find('nginx-proxy')!.rps)}×, which auto workers reach ${fmt(auto.vsNginxProxy)}×; Caddy (GOMAXPROCS=1) ${fmt(caddy?.vsNginxProxy ?? NaN)}× the one-worker proxy${machineSplit('nginx proxy (auto) → data plane warm', auto, planeWarm)}`
      : 'not run',
    met: planeWarm ? planeWarm.vsNginxProxy >= 0.9 : undefined,
    command: cmd,
  })
  // How the plane scales with its workers, against how a plain proxy does, in the same round: (plane
  // auto ÷ its configuration on one worker) ÷ (proxy auto ÷ proxy on one worker), all sent the plane's request.
  const planeOne = find('nginx-plane-one')
  const proxyOne = find('nginx-proxy-one')
  const inRound = (x: ScenarioSummary, round: number) => x.runs.find((r) => r.round === round)?.rps ?? NaN
  const scaling = planeWarm && auto && planeOne && proxyOne
    ? median(planeWarm.runs.map((r) => r.rps / inRound(planeOne, r.round) / (inRound(auto, r.round) / inRound(proxyOne, r.round))))
    : undefined
  goals.push({
    goal: 'nginx data plane scales with its workers (worker_processes auto) like a plain nginx proxy: its gain over one worker ≥ 0.9× the proxy\'s',
    measured: scaling !== undefined && planeWarm && auto && planeOne && proxyOne
      ? `${fmt(scaling)}× (auto ÷ one worker: the plane ${fmt(planeWarm.rps / planeOne.rps)}×, the proxy ${fmt(auto.rps / proxyOne.rps)}×, medians; on one worker the plane is ${fmt(planeOne.vsNginxProxy)}× the proxy)`
      : 'not run',
    met: scaling !== undefined ? scaling >= 0.9 : undefined,
    command: cmd,
  })
  const planeCold = find('nginx-plane-cold')
  goals.push({
    goal: 'nginx data plane cold (new tokens) ≥ 0.5× its warm',
    measured: r.nginxPlaneColdVsWarm !== undefined && planeCold && planeWarm ? `${fmt(r.nginxPlaneColdVsWarm)}× (${fmt(planeCold.rps, 0)} vs ${fmt(planeWarm.rps, 0)} req/s; ${fmt(100 * (planeCold.firstUseShare ?? 0), 0)}% of cold requests carried a new token)${coldCeiling(r.rsaCheckUs, planeOne)}${machineSplit('warm → cold', planeWarm, planeCold)}` : 'not run',
    met: r.nginxPlaneColdVsWarm !== undefined ? r.nginxPlaneColdVsWarm >= 0.5 : undefined,
    command: cmd,
  })
  const ph = r.nginxPlaneHalfLoad
  goals.push({
    goal: 'nginx data plane: p99 added over direct ≤ 1 ms at half of its maximum load',
    measured: ph ? `+${fmt(ph.addedP99.nginxPlane)} ms at ${fmt(ph.rate, 0)} req/s (nginx proxy, auto workers, +${fmt(ph.addedP99.nginxProxyAuto)} ms)` : 'not run',
    met: ph ? ph.addedP99.nginxPlane <= 1 : undefined,
    command: cmd,
  })
  const st = r.startup
  goals.push({
    goal: 'start-up with 10,000 services ≤ 2 s',
    measured: st ? `ready ${fmt(st.large.readyMs, 0)} ms, first request ${fmt(st.large.firstRequestMs, 0)} ms (1 service: ${fmt(st.baseline.readyMs, 0)} / ${fmt(st.baseline.firstRequestMs, 0)} ms; ×${fmt(st.ratio.firstRequestMs)})` : 'not run',
    met: st ? st.large.firstRequestMs <= 2000 : undefined,
    command: cmd,
  })
  return goals
}

/**
 * What the signature check alone leaves of the cold ratio where one nginx worker is the
 * bottleneck: a new token costs that worker at least a warm request and one RSA check, so cold ≤
 * warm µs ÷ (warm µs + check µs), with warm µs a warm request's CPU on the plane's one-worker copy.
 */
function coldCeiling(checkUs: number | undefined, planeOne: ScenarioSummary | undefined): string {
  if (checkUs === undefined || !planeOne) return ''
  const warmUs = planeOne.cpuUsPerRequest
  return `; one RSA-2048 check takes ${fmt(checkUs, 0)} µs here (openssl speed rsa2048), a warm request ${fmt(warmUs, 0)} µs of one worker: where a worker is the bottleneck, cold is at most ${fmt(warmUs / (warmUs + checkUs))}× even if a new token cost nothing else`
}

/**
 * Where a request's share of the whole machine goes, from one scenario to another (`label`, e.g.
 * "warm → cold"), in µs (medians over rounds of cores ÷ req/s): which part of a gap is the data
 * plane's, which the upstream's (the plane sends it identity headers a plain proxy does not), and
 * which the load generator's or idle time. Empty for runs recorded before the generator and idle were metered.
 */
function machineSplit(label: string, from: ScenarioSummary, to: ScenarioSummary): string {
  if ([from, to].some((s) => s.runs.some((r) => r.machine.generatorCores === undefined))) return ''
  const us = (s: ScenarioSummary, cores: (r: ScenarioRun) => number) => fmt(median(s.runs.map((r) => (cores(r) * 1e6) / r.rps)), 0)
  const parts: [string, (r: ScenarioRun) => number][] = [
    ['nginx', (r) => r.cpu.cores],
    ['Postern', (r) => r.gateway?.cores ?? 0],
    ['upstream', (r) => r.upstreamCores],
    ['wrk', (r) => r.machine.generatorCores ?? 0],
    ['idle', (r) => r.machine.idleCores ?? 0],
  ]
  return `; a request's share of the machine, ${label}: ${parts.map(([name, cores]) => `${name} ${us(from, cores)} → ${us(to, cores)}`).join(', ')} µs`
}

// --- text -------------------------------------------------------------------------------------

function table(headers: string[], rows: string[][], align: ('l' | 'r')[]): string[] {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: string[]) => cells.map((c, i) => (align[i] === 'r' ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ')
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)]
}

function md(headers: string[], rows: string[][], align: ('l' | 'r')[]): string[] {
  return [`| ${headers.join(' | ')} |`, `|${align.map((a) => (a === 'r' ? '---:' : ':---')).join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)]
}

const LOAD_HEADERS = ['scenario', 'req/s', '× nginx proxy', '× direct', 'p50 ms', 'p99 ms', 'p99.9 ms', 'CPU cores', 'CPU µs/req', 'peak RSS MB']
const LOAD_ALIGN: ('l' | 'r')[] = ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r']

function loadRows(s: ScenarioSummary[]): string[][] {
  return s.map((x) => [
    x.label + (x.runs.some((r) => r.problems.length) ? ' (!)' : ''),
    fmt(x.rps, 0),
    fmt(x.vsNginxProxy),
    fmt(x.vsDirect),
    fmt(x.p50),
    fmt(x.p99),
    fmt(x.p999),
    x.gateway ? `${fmt(x.cores)} + gw ${fmt(x.gateway.cores)}` : fmt(x.cores),
    fmt(x.cpuUsPerRequest, 0),
    x.gateway ? `${fmt(x.peakRssMb, 0)} + gw ${fmt(x.gateway.peakRssMb, 0)}` : fmt(x.peakRssMb, 0),
  ])
}

const CPU_NOTE =
  'CPU and peak RSS are those of the process under test: the upstream nginx worker for direct, the nginx proxy worker, the Node bare proxy, ' +
  'the `postern serve` process (with --workers, its workers too) for postern, and the dev proxy plus (gw) the gateway behind it; CPU µs/req is their CPU time over requests served. ' +
  'Peak RSS is VmHWM, reset before each run (clear_refs), summed over the processes. ' +
  'Ratios are per round (against the reference measured in the same round), then the median.'

/**
 * CPU a request costs when requests come one by one at a fixed rate: more than under wrk, where
 * each wake-up finds several (README, "Half load is not half busy").
 */
const pacedCpuUs = (t: { cores: number; achievedRps: number }) => (t.cores * 1e6) / t.achievedRps

export function formatText(r: BenchReport): string {
  const out: string[] = []
  if (r.scenarios) {
    out.push('', `Load (${r.settings.rounds} rounds × ${r.settings.seconds} s, wrk -t${r.settings.threads} -c${r.settings.connections}; medians)`, '')
    out.push(...table(LOAD_HEADERS, loadRows(r.scenarios), LOAD_ALIGN))
    out.push('', otherLoad(r.scenarios))
    const problems = r.scenarios.flatMap((s) => s.runs.flatMap((x) => x.problems.map((p) => `${s.id} round ${x.round + 1}: ${p}`)))
    if (problems.length) out.push('', 'Problems:', ...problems.map((p) => '  ' + p))
  }
  if (r.halfLoad) {
    out.push('', `At half of postern warm's maximum (${fmt(r.halfLoad.rate, 0)} req/s, fixed rate)`, '')
    out.push(...table(['target', 'achieved req/s', 'p50 ms', 'p99 ms', 'p99.9 ms', 'p99 from due time', 'CPU cores', 'CPU µs/req'], r.halfLoad.targets.map((t) => [t.label, fmt(t.achievedRps, 0), fmt(t.p50), fmt(t.p99), fmt(t.p999), fmt(t.correctedP99), fmt(t.cores), fmt(pacedCpuUs(t), 0)]), ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r']))
    out.push(`p99 added over direct: postern +${fmt(r.halfLoad.addedP99.postern)} ms, nginx proxy +${fmt(r.halfLoad.addedP99.nginxProxy)} ms, Node bare proxy +${fmt(r.halfLoad.addedP99.bareProxy)} ms`)
  }
  if (r.inProcess) {
    out.push('', 'In process (dist/ code; median of interleaved batches)', '')
    out.push(...table(['operation', 'per op', 'vs baseline'], r.inProcess.cases.map((x) => [x.label, nsText(x.medianNs), x.ratioToBaseline ? `${fmt(x.ratioToBaseline)}× ${x.baseline}` : '']), ['l', 'r', 'l']))
    out.push(cacheMemory(r.inProcess))
  }
  if (r.startup) {
    const st = r.startup
    out.push('', `Start-up (median of ${st.samples.length / 2} alternate starts)`, '')
    out.push(...table(['store', 'to "Postern is ready."', 'to first 200'], [
      ['1 service', `${fmt(st.baseline.readyMs, 0)} ms`, `${fmt(st.baseline.firstRequestMs, 0)} ms`],
      [`${st.services.toLocaleString('en')} services`, `${fmt(st.large.readyMs, 0)} ms`, `${fmt(st.large.firstRequestMs, 0)} ms`],
      ['ratio', `${fmt(st.ratio.readyMs)}×`, `${fmt(st.ratio.firstRequestMs)}×`],
    ], ['l', 'r', 'r']))
  }
  if (r.renewal) out.push('', renewalLine(r.renewal))
  if (r.instructions) out.push('', instructionsLine(r.instructions))
  if (r.soak) {
    out.push('', `Soak: ${r.soak.seconds} s, ${r.soak.load}: ${fmt(r.soak.result.rps, 0)} req/s, p99 ${fmt(r.soak.result.p99)} ms, ${fmt(r.soak.cores)} cores`)
    out.push(`  gateway RSS per minute (lowest–highest, MB): ${r.soak.minutes.map((m) => `${m.minMb.toFixed(0)}–${m.maxMb.toFixed(0)}`).join(', ')}; peak (VmHWM) ${r.soak.peakRssMb.toFixed(0)} MB`)
  }
  if (r.profiles) {
    for (const p of r.profiles.runs) {
      out.push('', `CPU profile of ${p.load === 'node-bare-proxy' ? 'the Node bare proxy' : `the gateway, ${p.load} load`} (${fmt(p.result.rps, 0)} req/s under the profiler; ${fmt(p.summary.busyPercent, 0)}% of the window busy): top self time`)
      for (const h of p.summary.bySelf.slice(0, 20)) out.push(`  ${fmt(h.selfPercent, 1).padStart(5)}%  (total ${fmt(h.totalPercent, 1).padStart(5)}%)  ${h.name}`)
      out.push('  by module: ' + p.summary.byModule.slice(0, 10).map((m) => `${m.module} ${fmt(m.selfPercent, 1)}%`).join(', '))
      if (p.summary.ownCode.length) {
        out.push('  Postern\'s own functions by inclusive time:')
        for (const h of p.summary.ownCode.slice(0, 12)) out.push(`  ${fmt(h.totalPercent, 1).padStart(5)}%  (self ${fmt(h.selfPercent, 1).padStart(4)}%)  ${h.name}`)
      }
    }
    out.push(`  raw profiles: ${r.profiles.files.join(', ')}`)
  }
  out.push('', 'Goals', '')
  out.push(...table(['goal', 'met', 'measured'], r.goals.map((g) => [g.goal, g.met === undefined ? '–' : g.met ? 'yes' : 'NO', g.measured]), ['l', 'l', 'l']))
  return out.join('\n')
}

function cacheMemory(ip: InProcessReport): string {
  return `Memory: the gateway's verified-token cache holds ${fmt(ip.bytesPerCachedToken, 0)} bytes of heap per token (its digest, claims, entry); at its capacity of ${ip.tokenCacheCapacity.toLocaleString('en')} tokens that is ${fmt((ip.bytesPerCachedToken * ip.tokenCacheCapacity) / 1048576, 0)} MB.`
}

function otherLoad(s: ScenarioSummary[]): string {
  // Clock-tick rounding makes an idle machine read a little below zero.
  const all = s.flatMap((x) => x.runs.map((r) => Math.max(0, r.machine.otherCores))).sort((a, b) => a - b)
  const steal = s.flatMap((x) => x.runs.map((r) => r.machine.stealCores))
  return `Other processes on the machine used ${fmt(median(all))} cores in the median run (highest ${fmt(all.at(-1) ?? NaN)}); hypervisor steal at most ${fmt(Math.max(...steal))} cores.`
}

function nsText(ns: number): string {
  return ns >= 1e6 ? `${fmt(ns / 1e6)} ms` : ns >= 1000 ? `${fmt(ns / 1000)} µs` : `${fmt(ns, 0)} ns`
}

// --- markdown (for the README) ----------------------------------------------------------------

export function formatMarkdown(r: BenchReport): string {
  const out: string[] = ['# Gateway benchmark: latest run', '']
  out.push(
    `${r.date.slice(0, 10)}, \`${r.command}\` (gateway and nginx proxy: ${r.settings.workers} worker${r.settings.workers > 1 ? 's' : ''}${r.settings.nodeArgs.length ? `; ${Object.entries(r.settings.env ?? {}).map(([k, v]) => `${k}=${v} `).join('')}node ${r.settings.nodeArgs.join(' ')} for postern serve` : ''}) on ${r.machine.cpus} × ${r.machine.model}, Node ${r.machine.node}, nginx ${r.machine.nginx}, wrk ${r.machine.wrk} ` +
      `(load average ${r.machine.loadAverageAtStart.map((x) => x.toFixed(1)).join(' / ')} at the start: the machine is shared). ` +
      `Everything on loopback; ${r.settings.rounds} interleaved rounds × ${r.settings.seconds} s per scenario, wrk ${r.settings.threads} threads, ${r.settings.connections} connections; medians. ` +
      'Chart: [latest.svg](latest.svg); every figure: [latest.json](latest.json).',
    '',
  )
  if (r.scenarios) {
    out.push(...md(LOAD_HEADERS, loadRows(r.scenarios), LOAD_ALIGN), '', CPU_NOTE, '')
    out.push(`${otherLoad(r.scenarios)}`, '')
    const warm = r.scenarios.find((x) => x.id === 'postern-warm')
    if (warm) {
      out.push(
        `The gateway's peak RSS rises over the run as the cold rounds fill its verified-token cache (up to 20,000 tokens): postern warm, round by round: ${warm.runs.map((x) => `${fmt(x.cpu.maxProcessPeakRssMb, 0)}`).join(', ')} MB.`,
        '',
      )
    }
    const ref = r.scenarios.find((s) => s.reference)
    if (ref) out.push(`${ref.label}: ${ref.reference}.`, '')
  }
  if (r.halfLoad) {
    out.push(`## Latency at half of the maximum load (${fmt(r.halfLoad.rate, 0)} req/s)`, '')
    out.push(...md(['target', 'achieved req/s', 'p50 ms', 'p99 ms', 'p99.9 ms', 'p99 from due time ms', 'CPU cores', 'CPU µs/req'], r.halfLoad.targets.map((t) => [t.label, fmt(t.achievedRps, 0), fmt(t.p50), fmt(t.p99), fmt(t.p999), fmt(t.correctedP99), fmt(t.cores), fmt(pacedCpuUs(t), 0)]), ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r']))
    out.push('', `p99 added over direct: postern **+${fmt(r.halfLoad.addedP99.postern)} ms**, nginx proxy +${fmt(r.halfLoad.addedP99.nginxProxy)} ms, Node bare proxy +${fmt(r.halfLoad.addedP99.bareProxy)} ms. Method: ${r.halfLoad.method}`, '')
  }
  if (r.nginxPlaneHalfLoad) {
    const ph = r.nginxPlaneHalfLoad
    out.push(`## The nginx data plane at half of its maximum load (${fmt(ph.rate, 0)} req/s)`, '')
    out.push(...md(['target', 'achieved req/s', 'p50 ms', 'p99 ms'], ph.targets.map((t) => [t.label, fmt(t.achievedRps, 0), fmt(t.p50), fmt(t.p99)]), ['l', 'r', 'r', 'r']))
    out.push('', `p99 added over direct: nginx data plane **+${fmt(ph.addedP99.nginxPlane)} ms**, nginx proxy (auto workers) +${fmt(ph.addedP99.nginxProxyAuto)} ms. Method: as above, at half of the data plane's warm median maximum; all three are sent the data plane's request.`, '')
  }
  if (r.inProcess) {
    out.push('## In process', '')
    out.push(...md(['operation', 'per op', 'vs baseline (same run)'], r.inProcess.cases.map((x) => [x.label, nsText(x.medianNs), x.ratioToBaseline ? `${fmt(x.ratioToBaseline)}× ${x.baseline}` : '']), ['l', 'r', 'l']), '')
    out.push(cacheMemory(r.inProcess), '')
  }
  if (r.startup) {
    const st = r.startup
    out.push('## Start-up', '')
    out.push(...md(['store', 'to "Postern is ready."', 'to the first 200'], [
      ['1 service', `${fmt(st.baseline.readyMs, 0)} ms`, `${fmt(st.baseline.firstRequestMs, 0)} ms`],
      [`${st.services.toLocaleString('en')} services`, `${fmt(st.large.readyMs, 0)} ms`, `${fmt(st.large.firstRequestMs, 0)} ms`],
    ], ['l', 'r', 'r']), '')
  }
  if (r.renewal) out.push('## The nginx data plane\'s bulk renewals', '', renewalLine(r.renewal), '')
  if (r.instructions) out.push('## Instructions per request', '', instructionsLine(r.instructions), '')
  if (r.soak) {
    out.push('## Soak', '', `${r.soak.seconds} s, ${r.soak.load}: ${fmt(r.soak.result.rps, 0)} req/s, p99 ${fmt(r.soak.result.p99)} ms. Gateway RSS per minute, lowest–highest (MB): ${r.soak.minutes.map((m) => `${m.minMb.toFixed(0)}–${m.maxMb.toFixed(0)}`).join(', ')}; peak (VmHWM) ${r.soak.peakRssMb.toFixed(0)} MB. Every second's sample is in latest.json.`, '')
  }
  if (r.profiles) {
    out.push('## Where the gateway spends its time', '')
    for (const p of r.profiles.runs) {
      out.push(`### ${p.load === 'node-bare-proxy' ? 'Node bare proxy (reference), warm-shaped load' : `gateway, ${p.load} load`}`, '', `${fmt(p.result.rps, 0)} req/s under \`node --cpu-prof\`; top self time (share of busy samples):`, '')
      out.push(...md(['self %', 'total %', 'function'], p.summary.bySelf.slice(0, 15).map((h) => [fmt(h.selfPercent, 1), fmt(h.totalPercent, 1), '`' + h.name + '`']), ['r', 'r', 'l']), '')
      if (p.summary.ownCode.length) {
        out.push('Postern\'s own functions by inclusive time:', '')
        out.push(...md(['total %', 'self %', 'function'], p.summary.ownCode.slice(0, 12).map((h) => [fmt(h.totalPercent, 1), fmt(h.selfPercent, 1), '`' + h.name + '`']), ['r', 'r', 'l']), '')
      }
    }
  }
  out.push('## Goals', '')
  out.push(...md(['goal', 'met', 'measured', 'command'], r.goals.map((g) => [g.goal, g.met === undefined ? '–' : g.met ? 'yes' : '**no**', g.measured, `\`${g.command}\``]), ['l', 'l', 'l', 'l']), '')
  return out.join('\n')
}

// --- chart ------------------------------------------------------------------------------------

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

/** Two bar panels, requests/s and p99, one bar per scenario; plain SVG, no library. */
export function formatSvg(r: BenchReport): string {
  const s = r.scenarios ?? []
  const rowH = 24
  const labelW = 300
  const barW = 330
  const gap = 120
  const top = 56
  const width = labelW + 2 * (barW + gap)
  const height = top + s.length * rowH + 40
  const colour = (id: string) => (id.startsWith('postern') ? '#2563eb' : id === 'dev-proxy' ? '#7c3aed' : id === 'node-bare-proxy' ? '#94a3b8' : '#475569')
  const maxRps = Math.max(...s.map((x) => x.rps))
  const maxP99 = Math.max(...s.map((x) => x.p99))
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="12" y="20" font-size="14" font-weight="bold">${esc(`Postern gateway vs nginx, ${r.date.slice(0, 10)}: ${r.machine.cpus} × ${r.machine.model}, Node ${r.machine.node}`)}</text>`,
    `<text x="${labelW}" y="44" font-weight="bold">requests/s (median)</text>`,
    `<text x="${labelW + barW + gap}" y="44" font-weight="bold">p99 latency, ms (median)</text>`,
  ]
  s.forEach((x, i) => {
    const y = top + i * rowH
    parts.push(`<text x="${labelW - 8}" y="${y + 15}" text-anchor="end">${esc(x.label)}</text>`)
    const w1 = Math.max(1, (x.rps / maxRps) * barW)
    parts.push(`<rect x="${labelW}" y="${y + 4}" width="${w1.toFixed(1)}" height="${rowH - 8}" fill="${colour(x.id)}"/>`)
    // A long bar carries its figure inside, so it does not run into the next panel.
    const inside = w1 > barW * 0.55
    parts.push(`<text x="${inside ? labelW + w1 - 4 : labelW + w1 + 4}" y="${y + 15}"${inside ? ' text-anchor="end" fill="#fff"' : ''}>${esc(`${fmt(x.rps, 0)} (${fmt(x.vsNginxProxy)}× nginx proxy)`)}</text>`)
    const x2 = labelW + barW + gap
    const w2 = Math.max(1, (x.p99 / maxP99) * barW)
    parts.push(`<rect x="${x2}" y="${y + 4}" width="${w2.toFixed(1)}" height="${rowH - 8}" fill="${colour(x.id)}" opacity="0.75"/>`)
    const inside2 = w2 > barW * 0.8
    parts.push(`<text x="${inside2 ? x2 + w2 - 4 : x2 + w2 + 4}" y="${y + 15}"${inside2 ? ' text-anchor="end" fill="#fff"' : ''}>${esc(fmt(x.p99))}</text>`)
  })
  parts.push(`<text x="12" y="${height - 12}" fill="#555">${esc(`${r.settings.rounds} rounds × ${r.settings.seconds} s, wrk -t${r.settings.threads} -c${r.settings.connections}, loopback; ${r.command}`)}</text>`)
  parts.push('</svg>')
  return parts.join('\n') + '\n'
}

function instructionsLine(x: InstructionsResult): string {
  return (
    `Instructions per warm request (callgrind: user space, one nginx process, the data plane's request): the nginx data plane ${x.plane.toLocaleString('en')}, ` +
    `a plain nginx proxy ${x.proxy.toLocaleString('en')}: ${fmt(x.ratio)}× (medians of three windows; the plane's: ${x.windows.plane.map((n) => n.toLocaleString('en')).join(', ')})` +
    phasesText(x.phases)
  )
}

/** Where the plane's instructions went, as far as callgrind_annotate named the functions. */
function phasesText(p: InstructionsResult['phases']): string {
  if (!p) return ''
  const n = (v: number | undefined) => (v === undefined ? '–' : v.toLocaleString('en'))
  return `; of the plane's, the access phase's Lua ${n(p.access)}, the balancer ${n(p.balancer)} (parsing the peer's address ${n(p.parseUrl)}), the header filter ${n(p.headerFilter)}`
}

function renewalLine(x: RenewalResult): string {
  return (
    `Renewals (${x.callers.toLocaleString('en')} callers' tokens, ${x.batches} bodies of ${x.linesPerBatch.toLocaleString('en')} lines a round): Postern's CPU ` +
    `${fmt(x.answeredUs, 1)} µs a line answered \`same\` with nothing changed, against ${fmt(x.decidedUs, 1)} µs decided just after a change: ` +
    `${fmt(x.ratio)}× (rounds: ${x.rounds.map((r) => fmt(r.answeredUs / r.decidedUs)).join(', ')})`
  )
}
