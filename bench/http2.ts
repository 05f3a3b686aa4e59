import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ROOT } from './dist.js'
import { startPostern } from './postern.js'
import { freePort, run, startProcess } from './processes.js'

/**
 * `npm run bench:http2`: requests per second over HTTP/2 next to HTTP/1.1, through the Node
 * gateway and straight to the upstream, with h2load (Debian's nghttp2-client) as the client for
 * both protocols. Every figure is also given as a ratio to a baseline measured in the same run,
 * scenarios interleaved round by round, so that a busy machine shows in all of them alike.
 *
 *   npm run bench:http2 -- [--rounds N] [--seconds S] [--clients C] [--streams M]
 */
const args = new Map<string, string>()
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ''), process.argv[i + 1] ?? '')
const ROUNDS = Number(args.get('rounds') ?? 2)
const SECONDS = Number(args.get('seconds') ?? 5)
const CLIENTS = Number(args.get('clients') ?? 16)
const STREAMS = Number(args.get('streams') ?? 10)

/** One upstream process: HTTP/1.1 on one port, h2c on another, both answering a small JSON body. */
const UPSTREAM = `
const http = require('node:http'), http2 = require('node:http2')
const body = JSON.stringify({ ok: true, message: 'hello from the bench upstream' })
http.createServer((req, res) => { req.resume(); res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }); res.end(body) })
  .listen(Number(process.env.H1_PORT), '127.0.0.1')
// Nagle off, as gRPC servers (grpc-go, grpc-js) and the HTTP/1.1 server here have it.
http2.createServer({ settings: { maxConcurrentStreams: 1000 } }).on('connection', (socket) => socket.setNoDelay(true))
  .on('stream', (stream) => { stream.resume(); stream.respond({ ':status': 200, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }); stream.end(body) })
  .listen(Number(process.env.H2_PORT), '127.0.0.1', () => console.log('upstream ready'))
`

interface Scenario {
  name: string
  /** h2load arguments besides the common ones. */
  args: () => string[]
}

interface Result {
  rps: number
  ok: number
  failed: number
}

async function h2load(extra: string[]): Promise<Result> {
  const r = await run('h2load', ['-D', String(SECONDS), '--warm-up-time', '1', '-c', String(CLIENTS), '-t', '1', ...extra], { timeoutMs: (SECONDS + 30) * 1000 })
  const rps = Number(/finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(r.stdout)?.[1] ?? NaN)
  const ok = Number(/status codes: (\d+) 2xx/.exec(r.stdout)?.[1] ?? 0)
  const failed = Number(/requests: .* (\d+) failed/.exec(r.stdout)?.[1] ?? 0)
  if (!Number.isFinite(rps) || ok === 0) throw new Error(`h2load ${extra.join(' ')} gave no answers:\n${r.stdout}\n${r.stderr}`)
  return { rps, ok, failed }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

async function main(): Promise<void> {
  const version = await run('h2load', ['--version']).catch(() => undefined)
  if (!version || version.code !== 0) {
    console.error('bench:http2 needs h2load: apt-get install -y nghttp2-client')
    process.exit(2)
  }
  const dir = mkdtempSync(join(tmpdir(), 'postern-bench-h2-'))
  const [h1Port, h2Port] = [await freePort(), await freePort()]
  const upstream = await startProcess(process.execPath, ['-e', UPSTREAM], { env: { ...process.env, H1_PORT: String(h1Port), H2_PORT: String(h2Port) }, readyText: 'upstream ready' })
  const postern = await startPostern(dir)
  try {
    await postern.cli(['services', 'create', 'h1', `--upstream=http://127.0.0.1:${h1Port}`])
    await postern.cli(['services', 'create', 'h2', `--upstream=http://127.0.0.1:${h2Port}`, '--use-http2'])
    const token = (await postern.cli(['auth', 'print-identity-token'])).trim()
    const gateway = `http://127.0.0.1:${postern.gatewayPort}/`
    const auth = ['-H', `authorization: Bearer ${token}`]
    const h2 = ['-m', String(STREAMS)]
    const scenarios: Scenario[] = [
      { name: 'h2 direct (h2c upstream)', args: () => [...h2, `http://127.0.0.1:${h2Port}/`] },
      { name: 'h2 via gateway → h2c upstream (useHttp2)', args: () => [...h2, ...auth, '-H', `:authority: ${postern.hostOf('h2')}`, gateway] },
      { name: 'h2 via gateway → HTTP/1.1 upstream', args: () => [...h2, ...auth, '-H', `:authority: ${postern.hostOf('h1')}`, gateway] },
      { name: 'HTTP/1.1 via gateway → HTTP/1.1 upstream', args: () => ['--h1', ...auth, '-H', `:authority: ${postern.hostOf('h1')}`, gateway] },
      { name: 'HTTP/1.1 direct (HTTP/1.1 upstream)', args: () => ['--h1', `http://127.0.0.1:${h1Port}/`] },
    ]
    const results = new Map<string, Result[]>(scenarios.map((s) => [s.name, []]))
    for (let round = 1; round <= ROUNDS; round++) {
      for (const s of scenarios) {
        const r = await h2load(s.args())
        results.get(s.name)!.push(r)
        console.error(`round ${round}: ${s.name}: ${Math.round(r.rps)} req/s (${r.ok} 2xx, ${r.failed} failed)`)
      }
    }
    const rps = (name: string) => median(results.get(name)!.map((r) => r.rps))
    const h2Direct = rps(scenarios[0]!.name)
    const h1Gateway = rps(scenarios[3]!.name)
    const rows = scenarios.map((s) => {
      const v = rps(s.name)
      const failed = results.get(s.name)!.reduce((n, r) => n + r.failed, 0)
      return `| ${s.name} | ${Math.round(v).toLocaleString('en-US')} | ${(v / h2Direct).toFixed(2)} | ${(v / h1Gateway).toFixed(2)} | ${failed} |`
    })
    const report = [
      `# HTTP/2 next to HTTP/1.1 (${new Date().toISOString()})`,
      '',
      `\`npm run bench:http2 -- --rounds ${ROUNDS} --seconds ${SECONDS} --clients ${CLIENTS} --streams ${STREAMS}\`: h2load ${/h2load nghttp2\/(\S+)/.exec(version.stdout)?.[1] ?? '?'}, ${CLIENTS} connections, ${STREAMS} concurrent streams per HTTP/2 connection (HTTP/1.1: one request at a time per connection), ${SECONDS} s per run after 1 s of warm-up, the median of ${ROUNDS} interleaved rounds; one gateway process, the ID token verified and IAM decided on every request.`,
      '',
      '| scenario | req/s | × h2 direct | × HTTP/1.1 via gateway | failed |',
      '|:---|---:|---:|---:|---:|',
      ...rows,
      '',
    ].join('\n')
    console.log(report)
    mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true })
    writeFileSync(join(ROOT, 'bench', 'results', 'http2-latest.md'), report)
  } finally {
    await postern.stop()
    await upstream.stop()
  }
}

main().catch((err: unknown) => {
  console.error(err)
  process.exit(1)
})
