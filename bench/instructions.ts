import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { copyConfig, proxyConfig, startUpstream } from './nginx.js'
import { awaitStatus, BENCH_DOMAIN, insertUsers, startPostern } from './postern.js'
import { freePort, run, sleep, startProcess } from './processes.js'
import { serverSigningKey, TokenMint } from './tokens.js'
import { runWrk } from './wrk.js'

export interface InstructionsResult {
  /** Instructions one nginx process ran per request (user space, callgrind), the data plane's request with a warm token. */
  proxy: number
  plane: number
  /** plane ÷ proxy. */
  ratio: number
  /** The requests each was measured over (its median window). */
  requests: { proxy: number; plane: number }
  /** Each window's instructions per request, in the order measured. */
  windows: { proxy: number[]; plane: number[] }
  /** Where the plane's instructions a request go, from its median window (PHASES); absent where the functions have no symbols. */
  phases?: Partial<Record<keyof typeof PHASES, number>>
}

/**
 * The parts of a plane request worth telling apart, each the inclusive count of one function of
 * Debian's nginx and lua-nginx-module (0.10.23): the Lua that decides, the Lua that picks the
 * peer, the header filter's Lua, and within the balancer the parsing of the peer's address, which
 * that module's set_current_peer does on every call.
 */
const PHASES = {
  access: 'ngx_http_lua_access_handler',
  balancer: 'ngx_http_lua_balancer_handler_inline',
  headerFilter: 'ngx_http_lua_header_filter_inline',
  parseUrl: 'ngx_parse_url',
} as const

/** The windows each nginx is measured in; the median is reported. */
const WINDOWS = 3

/**
 * What a warm request costs the nginx data plane in instructions, against a plain nginx proxy
 * sent the same request: each run as one process (master_process off) under valgrind's
 * callgrind, which counts the instructions it runs in user space — the Lua, nginx and the
 * libraries, not the kernel's share. Unlike time, the count barely moves with what else the
 * machine is doing (about a thousand instructions in 46,000), so a change to the data plane's Lua
 * of a few thousand instructions a request shows plainly, where requests a second drift by
 * several percent from one run to the next. Each is warmed up (LuaJIT compiles its traces, the
 * plane learns its verdict) for 5 s, then measured in WINDOWS windows of `seconds` under wrk (1
 * thread, 4 connections), each the count since the counters were zeroed divided by the requests
 * wrk saw answered; the median window is reported (a first run once read 58,600 for the plane
 * where the next two read 45,300 and 45,600, after a 3-second warm-up and one window).
 */
export async function runInstructions(dir: string, o: { seconds?: number; log?: (s: string) => void } = {}): Promise<InstructionsResult> {
  const log = o.log ?? (() => undefined)
  const seconds = o.seconds ?? 5
  const stops: (() => Promise<void>)[] = []
  try {
    const upstream = await startUpstream(join(dir, 'upstream'), await freePort())
    stops.push(() => upstream.stop())
    const plane = await startPostern(join(dir, 'postern-nginx'), { serveArgs: ['--data-plane', 'nginx'] })
    stops.push(() => plane.stop())
    await plane.cli(['services', 'create', 'bench', '--upstream', `http://127.0.0.1:${upstream.port}`])
    await plane.cli(['services', 'add-iam-policy-binding', 'bench', `--member=domain:${BENCH_DOMAIN}`, '--role=roles/run.invoker'])
    const mint = new TokenMint(await serverSigningKey(plane.dataDir), plane.controlUrl, await insertUsers(plane.dataDir, [`user0000@${BENCH_DOMAIN}`]))
    const token = mint.mint(1)[0]!
    const host = plane.hostOf('bench')
    await awaitStatus(plane.gatewayPort, host, 200, { token })
    const measure = async (name: string, config: (prefix: string, port: number) => string) => {
      const prefix = join(dir, name)
      mkdirSync(join(prefix, 'tmp'), { recursive: true })
      const port = await freePort()
      const counted = await underCallgrind(prefix, config(prefix, port), port)
      try {
        log(`  ${name} …`)
        const request = { url: `http://127.0.0.1:${port}`, threads: 1, connections: 4, host, token }
        await runWrk({ ...request, seconds: 5 })
        const windows: { requests: number; perRequest: number; file: string }[] = []
        for (let i = 0; i < WINDOWS; i++) {
          await counted.zero()
          const { requests } = await runWrk({ ...request, seconds })
          const { total, file } = await counted.dump()
          windows.push({ requests, perRequest: Math.round(total / requests), file })
        }
        const median = [...windows].sort((a, b) => a.perRequest - b.perRequest)[WINDOWS >> 1]!
        return { ...median, windows: windows.map((w) => w.perRequest) }
      } finally {
        await counted.stop()
      }
    }
    const proxy = await measure('proxy', (prefix, port) => proxyConfig(prefix, port, upstream.port, 1))
    const conf = join(plane.dataDir, 'nginx', 'nginx.conf')
    const planeRun = await measure('plane', (prefix, port) => copyConfig(prefix, conf, { fromPort: plane.gatewayPort, port, workers: 1 }))
    const phases = await phasesOf(planeRun.file, planeRun.requests)
    return {
      proxy: proxy.perRequest,
      plane: planeRun.perRequest,
      ratio: planeRun.perRequest / proxy.perRequest,
      requests: { proxy: proxy.requests, plane: planeRun.requests },
      windows: { proxy: proxy.windows, plane: planeRun.windows },
      ...(Object.keys(phases).length > 0 && { phases }),
    }
  } finally {
    for (const stop of stops.reverse()) await stop()
  }
}

/** nginx as one process under callgrind, counting from zero() to dump(). */
async function underCallgrind(prefix: string, config: string, port: number) {
  const conf = join(prefix, 'nginx.conf')
  writeFileSync(conf, config.replace(/^master_process .*;$/m, ''))
  const out = join(prefix, 'callgrind.out')
  const nginx = await startProcess('valgrind', ['--tool=callgrind', `--callgrind-out-file=${out}`, 'nginx', '-p', prefix, '-c', conf, '-e', join(prefix, 'error.log'), '-g', 'master_process off;'], { readyPort: port, timeoutMs: 120_000 })
  const control = async (command: string) => {
    const r = await run('callgrind_control', [command, String(nginx.pid)])
    if (r.code !== 0) throw new Error(`callgrind_control ${command} ${nginx.pid} failed (${r.code}): ${r.stderr}`)
  }
  let dumps = 0
  return {
    zero: () => control('-z'),
    /** The instructions counted since zero(), and the file callgrind wrote them in. */
    async dump(): Promise<{ total: number; file: string }> {
      await control('-d')
      // callgrind numbers its dumps: out.1, out.2, …
      const file = `${out}.${++dumps}`
      for (let waited = 0; !existsSync(file) && waited < 10_000; waited += 100) await sleep(100)
      if (!existsSync(file)) throw new Error(`callgrind wrote no ${file}`)
      const totals = /^(?:summary|totals): (\d+)/m.exec(readFileSync(file, 'utf8'))
      if (!totals) throw new Error(`no totals in ${file}`)
      return { total: Number(totals[1]), file }
    },
    stop: () => nginx.stop(),
  }
}

/** Each of PHASES's functions, its inclusive instructions a request in a callgrind dump (callgrind_annotate). */
async function phasesOf(file: string, requests: number): Promise<Partial<Record<keyof typeof PHASES, number>>> {
  const r = await run('callgrind_annotate', ['--inclusive=yes', '--threshold=100', '--auto=no', file])
  if (r.code !== 0) return {}
  const phases: Partial<Record<keyof typeof PHASES, number>> = {}
  for (const [phase, fn] of Object.entries(PHASES) as [keyof typeof PHASES, string][]) {
    // A line such as "  92,846,201 (17.55%)  ???:ngx_http_lua_access_handler [/usr/lib/…]".
    const line = new RegExp(`^\\s*([\\d,]+) \\([^)]*\\)\\s+\\S*:${fn} \\[`, 'm').exec(r.stdout)
    if (line) phases[phase] = Math.round(Number(line[1]!.replace(/,/g, '')) / requests)
  }
  return phases
}
