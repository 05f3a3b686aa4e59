import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { ROOT } from './dist.js'
import { run } from './processes.js'
import { startEnvironment } from './environment.js'
import { POSTERN_ENV } from './postern.js'
import { runInProcess } from './in-process.js'
import { runInstructions } from './instructions.js'
import { fmt, runHalfLoad, runLoad, runPlaneHalfLoad, type LoadSettings } from './load.js'
import { runProfiles } from './profile.js'
import { runRenewal } from './renewal.js'
import { rsaCheckMicros } from './rsa-check.js'
import { coldVsWarm, formatMarkdown, formatSvg, formatText, judgeGoals, type BenchReport } from './report.js'
import { runSoak } from './soak.js'
import { runStartup } from './startup.js'
import { checkTools } from './tools.js'

/**
 * `npm run bench`: the gateway against direct calls, nginx and the Node floor; the nginx
 * data plane against nginx with as many workers, and Caddy as the Go reference; decide()
 * and token verification in process; start-up with 10,000 services; what the data plane's bulk
 * renewals cost Postern; the instructions a data plane request runs (valgrind). Writes
 * bench/results/latest.{json,md,svg}.
 *
 *   --rounds N        interleaved rounds of every scenario (3)
 *   --seconds S       seconds per load run (6)
 *   --workers N       postern serve --workers N, and as many nginx proxy workers (1)
 *   --node-args ARGS  flags for node running postern serve (default "--max-semi-space-size=4 --max-old-space-size=192", as bin/postern.js runs it)
 *   --only LIST       some of: load,half-load,in-process,startup,renewal,instructions (all; instructions needs valgrind)
 *   --soak[=S]        also a steady load for S seconds (300), watching the gateway's RSS
 *   --profile         also CPU profiles of the gateway under the warm and cold loads
 */
const PARTS = ['load', 'half-load', 'in-process', 'startup', 'renewal', 'instructions'] as const
type Part = (typeof PARTS)[number]

function parseArgs(argv: string[]) {
  const o = { rounds: 3, seconds: 6, workers: 1, nodeArgs: ['--max-semi-space-size=4', '--max-old-space-size=192'] as string[], only: new Set<Part>(PARTS), soak: 0, profile: false }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    const eq = arg.indexOf('=')
    const [flag, inline] = eq < 0 ? [arg, undefined] : [arg.slice(0, eq), arg.slice(eq + 1)]
    const value = () => inline ?? argv[++i] ?? ''
    if (flag === '--rounds') o.rounds = positive(flag, value())
    else if (flag === '--seconds') o.seconds = positive(flag, value())
    else if (flag === '--workers') o.workers = Math.round(positive(flag, value()))
    else if (flag === '--node-args') o.nodeArgs = value().split(' ').filter(Boolean)
    else if (flag === '--only') {
      const parts = value().split(',').filter(Boolean)
      for (const p of parts) if (!(PARTS as readonly string[]).includes(p)) throw new Error(`--only: '${p}' is not one of ${PARTS.join(', ')}`)
      o.only = new Set(parts as Part[])
    } else if (flag === '--soak') o.soak = inline ? positive(flag, inline) : 300
    else if (flag === '--profile') o.profile = true
    else throw new Error(`unknown option ${argv[i]} (see the comment at the top of bench/run.ts)`)
  }
  return o
}

function positive(flag: string, text: string): number {
  const n = Number(text)
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${flag}: expected a positive number, got '${text}'`)
  return n
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2))
  const tools = await checkTools()
  if ('missing' in tools) {
    process.stderr.write(`npm run bench needs ${tools.missing.join(' and ')} from Debian:\n  apt-get update && apt-get install -y ${tools.missing.join(' ')}\n`)
    return 2
  }
  const log = (s: string) => process.stdout.write(s + '\n')
  const env = Object.fromEntries(Object.keys(POSTERN_ENV).map((k) => [k, process.env[k] ?? POSTERN_ENV[k as keyof typeof POSTERN_ENV]]))
  const settings: LoadSettings = { workers: args.workers, nodeArgs: args.nodeArgs, env, rounds: args.rounds, seconds: args.seconds, threads: 2, connections: 50 }
  const dir = mkdtempSync(join(tmpdir(), 'postern-bench-'))
  const started = new Date()
  const report: Omit<BenchReport, 'goals'> = {
    date: started.toISOString(),
    command: ['npm run bench', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' '),
    machine: { cpus: cpus().length, model: cpus()[0]?.model.trim() ?? '?', node: process.version, nginx: tools.nginx, wrk: tools.wrk, loadAverageAtStart: loadavg() },
    settings,
  }
  if (loadavg()[0]! > 2) log(`WARNING: the load average is ${loadavg()[0]!.toFixed(1)}: other work on this machine will slow every figure; ratios within a round still hold best.`)
  log(`Postern gateway benchmark: ${report.machine.cpus} × ${report.machine.model}, Node ${report.machine.node}, nginx ${tools.nginx}, wrk ${tools.wrk}; load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}; temp dir ${dir}`)
  let failed = false
  try {
    const needsEnv = args.only.has('load') || args.only.has('half-load') || args.soak > 0
    if (needsEnv) {
      log('\nStarting nginx (upstream, proxy), the Node bare proxy, postern serve and the dev proxy')
      const env = await startEnvironment(join(dir, 'load'), { workers: args.workers, posternNodeArgs: args.nodeArgs, log })
      try {
        if (args.only.has('load')) {
          log(`\nLoad: ${settings.rounds} rounds × ${settings.seconds} s per scenario`)
          report.scenarios = await runLoad(env, settings, log)
          report.coldVsWarm = coldVsWarm(report.scenarios)
          report.nginxPlaneColdVsWarm = coldVsWarm(report.scenarios, 'nginx-plane')
          report.rsaCheckUs = await rsaCheckMicros()
        }
        if (args.only.has('half-load')) {
          const warm = report.scenarios?.find((s) => s.id === 'postern-warm')?.rps
          if (warm === undefined) throw new Error('--only half-load needs the load part too (its rate is half of postern warm\'s maximum)')
          log(`\nFixed rate at half of postern warm's maximum: ${fmt(warm / 2, 0)} req/s`)
          report.halfLoad = await runHalfLoad(env, { ...settings, rate: Math.round(warm / 2) }, log)
          const plane = report.scenarios?.find((s) => s.id === 'nginx-plane-warm')?.rps
          if (plane !== undefined) {
            log(`\nFixed rate at half of the nginx data plane's maximum: ${fmt(plane / 2, 0)} req/s`)
            report.nginxPlaneHalfLoad = await runPlaneHalfLoad(env, { ...settings, rate: Math.round(plane / 2) }, log)
          }
        }
        if (args.soak > 0) {
          log(`\nSoak: ${args.soak} s at a steady load`)
          report.soak = await runSoak(env, { seconds: args.soak, threads: settings.threads, connections: settings.connections }, log)
        }
      } finally {
        await env.stop()
      }
    }
    if (args.only.has('in-process')) {
      log('\nIn process: decide(), verifyJwt(), the gateway authorizer')
      report.inProcess = await runInProcess({ log })
    }
    if (args.only.has('startup')) {
      log('\nStart-up with 10,000 services against 1, alternately')
      report.startup = await runStartup(join(dir, 'startup'), { log })
    }
    if (args.only.has('renewal')) {
      log(`\nThe nginx data plane's bulk renewals: Postern's CPU per line, decided against answered same`)
      report.renewal = await runRenewal(join(dir, 'renewal'), { rounds: args.rounds, log })
    }
    if (args.only.has('instructions')) {
      if ((await run('valgrind', ['--version']).catch(() => undefined))?.code !== 0) {
        log('\nInstructions per request: not measured, valgrind is not installed (apt-get install -y valgrind)')
      } else {
        log('\nInstructions per request of the nginx data plane and a plain nginx proxy (callgrind)')
        report.instructions = await runInstructions(join(dir, 'instructions'), { log })
      }
    }
    if (args.profile) {
      log('\nCPU profiles of the gateway (node --cpu-prof)')
      report.profiles = await runProfiles(join(dir, 'profile'), { seconds: 10, threads: settings.threads, connections: settings.connections }, log)
    }
  } catch (err) {
    failed = true
    process.stderr.write(`\nbench failed: ${(err as Error).stack ?? String(err)}\n`)
  }
  const full: BenchReport = { ...report, goals: judgeGoals(report) }
  log(formatText(full))
  if (!failed) {
    const results = join(ROOT, 'bench', 'results')
    mkdirSync(results, { recursive: true })
    writeFileSync(join(results, 'latest.json'), JSON.stringify(full, null, 2) + '\n')
    writeFileSync(join(results, 'latest.md'), formatMarkdown(full))
    if (full.scenarios) writeFileSync(join(results, 'latest.svg'), formatSvg(full))
    log(`\nWrote bench/results/latest.json, latest.md${full.scenarios ? ', latest.svg' : ''}`)
    // The temp dir holds token files and logs; the CPU profile is kept when one was asked for.
    if (!args.profile) rmSync(dir, { recursive: true, force: true })
  } else {
    log(`\nNothing written; the temp dir is kept: ${dir}`)
  }
  return failed ? 1 : 0
}

process.exitCode = await main()
