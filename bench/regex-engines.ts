import { createRequire } from 'node:module'
import { join, resolve } from 'node:path'
import { RE2JS } from 're2js'
import { importDist, ROOT } from './dist.js'

/**
 * Which engine runs CEL's `matches()` (src/iam/linear-regex.ts): per-match and per-compile cost
 * of V8's RegExp (the backtracking engine CEL used before) and of the linear-time candidates on
 * npm — re2js (pure JavaScript, a dependency), re2-wasm and the native re2 addon (loaded from
 * `--candidates DIR` when installed there, since they are not dependencies) — on realistic
 * conditions, on the attack patterns, and end to end through a compiled condition.
 *
 *   npm run bench:regex
 *   mkdir /tmp/rx && cd /tmp/rx && npm init -y && npm install re2-wasm \
 *     && npm_config_nodedir=/usr npm install re2@1.23.0      # re2 ≥ 1.24 needs Node 22
 *   npm run bench:regex -- --candidates /tmp/rx
 */
type Matcher = (text: string) => boolean
interface Engine {
  name: string
  compile: (pattern: string) => Matcher
  /** Compiles that stay alive (re2-wasm frees nothing) are measured with care. */
  leaks?: boolean
}

const args = process.argv.slice(2)
const candidatesDir = args.includes('--candidates') ? resolve(args[args.indexOf('--candidates') + 1] ?? '.') : undefined

function engines(): { engines: Engine[]; missing: string[] } {
  const list: Engine[] = [
    { name: 'V8 RegExp', compile: (p) => { const re = new RegExp(p); return (s) => re.test(s) } },
    { name: 're2js', compile: (p) => { const re = RE2JS.compile(p); return (s) => re.test(s) } },
  ]
  const missing: string[] = []
  if (!candidatesDir) return { engines: list, missing: ['re2-wasm', 're2 (native)'] }
  const require = createRequire(join(candidatesDir, 'package.json'))
  try {
    const { RE2 } = require('re2-wasm') as { RE2: new (p: string, flags: string) => { test(s: string): boolean } }
    list.push({ name: 're2-wasm', leaks: true, compile: (p) => { const re = new RE2(p, 'u'); return (s) => re.test(s) } })
  } catch {
    missing.push('re2-wasm')
  }
  try {
    const RE2 = require('re2') as new (p: string, flags: string) => { test(s: string): boolean }
    list.push({ name: 're2 (native)', compile: (p) => { const re = new RE2(p, 'u'); return (s) => re.test(s) } })
  } catch {
    missing.push('re2 (native)')
  }
  return { engines: list, missing }
}

/** Median ns per call over batches of about `batchMs`. */
function measure(fn: () => unknown, batchMs = 40, batches = 9): number {
  let n = 1
  for (;;) {
    const t = process.hrtime.bigint()
    for (let i = 0; i < n; i++) fn()
    if (Number(process.hrtime.bigint() - t) / 1e6 >= batchMs / 4 || n > 1e7) break
    n *= 4
  }
  const results: number[] = []
  for (let b = 0; b < batches; b++) {
    const t = process.hrtime.bigint()
    for (let i = 0; i < n; i++) fn()
    results.push(Number(process.hrtime.bigint() - t) / n)
  }
  return results.sort((a, b) => a - b)[Math.floor(results.length / 2)]!
}

const fmt = (ns: number) => (ns >= 1e6 ? `${(ns / 1e6).toFixed(1)} ms` : ns >= 1e3 ? `${(ns / 1e3).toFixed(2)} µs` : `${ns.toFixed(0)} ns`)

const SERVICE = 'projects/my-project/services/api-orders'
const cases = [
  { label: 'realistic, match', pattern: '^projects/[a-z0-9-]+/services/(api|web)-[a-z0-9-]+$', text: SERVICE },
  { label: 'realistic, no match', pattern: '^projects/[a-z0-9-]+/services/(api|web)-[a-z0-9-]+$', text: 'projects/my-project/services/billing' },
  { label: 'alternation of 20 names', pattern: `/services/(${Array.from({ length: 20 }, (_, i) => `svc-${i}`).join('|')})$`, text: 'projects/my-project/services/svc-17' },
  { label: 'attack ^([a-z/-]+)+!$, 79-char name', pattern: '^([a-z/-]+)+!$', text: `projects/my-project/services/slow${'a'.repeat(45)}z`, v8Text: 'projects/my-p' + 'a'.repeat(9) },
  { label: 'IdP claim ^([A-Za-z]+ ?)+$, 40 chars', pattern: '^([A-Za-z]+ ?)+$', text: 'Ann Marie Elisabeth Charlotte Henriette!', v8Text: 'Annmarieelisabethcha!' },
]

async function main(): Promise<void> {
  const { engines: list, missing } = engines()
  console.log(`Regular-expression engines for CEL matches() — Node ${process.version}`)
  if (missing.length) console.log(`not measured (install them, then pass --candidates DIR): ${missing.join(', ')}`)
  // Warm-up, unrecorded: every engine on every case until the JIT has settled.
  for (const c of cases) {
    for (const e of list) {
      const m = e.compile(c.pattern)
      const text = e.name === 'V8 RegExp' && c.v8Text !== undefined ? c.v8Text : c.text
      measure(() => m(text), 20, 1)
    }
  }
  for (const c of cases) {
    console.log(`\n${c.label}: /${c.pattern.length > 60 ? c.pattern.slice(0, 57) + '…' : c.pattern}/ on ${c.text.length} chars`)
    const rows: { name: string; ns: number; note: string }[] = []
    for (const e of list) {
      // V8 backtracks exponentially on the attack patterns: it gets a shorter text, and fewer rounds.
      const short = e.name === 'V8 RegExp' && c.v8Text !== undefined
      const text = short ? c.v8Text! : c.text
      const m = e.compile(c.pattern)
      const ns = measure(() => m(text), short ? 200 : 40, short ? 3 : 9)
      rows.push({ name: e.name, ns, note: short ? ` (on only ${text.length} chars; it doubles with each one more)` : '' })
    }
    const re2jsNs = rows.find((r) => r.name === 're2js')!.ns
    for (const r of rows) console.log(`  ${r.name.padEnd(14)} ${fmt(r.ns).padStart(10)} per match  ${(r.ns / re2jsNs).toFixed(2).padStart(8)}× re2js${r.note}`)
  }

  // End to end: one condition decision with the engine Postern ships (re2js through CEL).
  const { compileCondition } = await importDist<typeof import('../src/iam/conditions.js')>('iam/conditions.js')
  const ctx = { now: Date.now(), resource: { name: SERVICE, type: 'run.postern/Service' as const } }
  const withRegex = compileCondition("resource.name.matches('^projects/[a-z0-9-]+/services/(api|web)-[a-z0-9-]+$')")
  const without = compileCondition("resource.name.startsWith('projects/my-project/services/api-')")
  const attack = compileCondition("resource.name.matches('^([a-z/-]+)+!$')")
  const longName = { ...ctx, resource: { ...ctx.resource, name: cases[3]!.text } }
  const a = measure(() => withRegex(ctx))
  const b = measure(() => without(ctx))
  const c = measure(() => attack(longName))
  console.log('\nthrough CEL (dist/iam/conditions.js), one decision:')
  console.log(`  startsWith condition           ${fmt(b).padStart(10)}`)
  console.log(`  matches condition (re2js)      ${fmt(a).padStart(10)}  ×${(a / b).toFixed(2)} startsWith`)
  console.log(`  attack on the 79-char name     ${fmt(c).padStart(10)}`)
  console.log('\ncompile a new pattern (each distinct; the cache in linear-regex.ts keeps compiled ones)')
  let k = 0
  for (const e of list) {
    if (e.leaks) {
      // re2-wasm keeps every compiled pattern in a fixed 16 MB heap and frees none: count how
      // many distinct patterns it takes before the module aborts.
      let compiled = 0
      const started = process.hrtime.bigint()
      try {
        for (; compiled < 20_000; compiled++) e.compile(`^projects/[a-z0-9-]+/services/(api|web)-[a-z0-9-]+$|x${compiled}`)
        console.log(`  ${e.name.padEnd(14)} ${fmt(Number(process.hrtime.bigint() - started) / compiled).padStart(10)} per compile, 20,000 compiled`)
      } catch (err) {
        console.log(`  ${e.name.padEnd(14)} aborted after ${compiled} distinct patterns: ${String(err).split('\n')[0]!.slice(0, 90)}`)
      }
      continue
    }
    const ns = measure(() => e.compile(`^projects/[a-z0-9-]+/services/(api|web)-[a-z0-9-]+$|y${k++}`), 40, 5)
    console.log(`  ${e.name.padEnd(14)} ${fmt(ns).padStart(10)} per compile`)
  }

  console.log(`\n(${ROOT})`)
}

await main()
