import { readFileSync } from 'node:fs'
import { relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ROOT } from './dist.js'

/** The parts of V8's .cpuprofile (node --cpu-prof) that a summary needs. */
interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number }
  children?: number[]
}
interface Profile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
  startTime: number
  endTime: number
}

export interface HotSpot {
  /** `file:line function`, with dist/ and node_modules paths shortened. */
  name: string
  selfMs: number
  selfPercent: number
  totalMs: number
  totalPercent: number
}

export interface ProfileSummary {
  file: string
  sampledMs: number
  /** Share of samples that were not idle ('(idle)' and '(program)' are V8's own buckets). */
  busyPercent: number
  bySelf: HotSpot[]
  byTotal: HotSpot[]
  /** Postern's own functions (dist/) by inclusive time. */
  ownCode: HotSpot[]
  /** Self time grouped by where the code comes from: Postern (file), node internals, a package. */
  byModule: { module: string; selfPercent: number }[]
}

function frameName(f: ProfileNode['callFrame']): string {
  let where = f.url
  if (where.startsWith('file://')) {
    const path = fileURLToPath(where)
    where = relative(ROOT, path)
    const nm = where.lastIndexOf('node_modules/')
    if (nm >= 0) where = where.slice(nm + 'node_modules/'.length)
  }
  const fn = f.functionName || '(anonymous)'
  return where ? `${where}:${f.lineNumber + 1} ${fn}` : fn
}

function moduleOf(f: ProfileNode['callFrame']): string {
  const url = f.url
  if (!url) return f.functionName.startsWith('(') ? f.functionName : '(native)'
  if (url.startsWith('node:')) return 'node:' + url.slice(5).split('/')[0]
  const path = url.startsWith('file://') ? fileURLToPath(url) : url
  const nm = path.lastIndexOf('node_modules/')
  if (nm >= 0) {
    const rest = path.slice(nm + 'node_modules/'.length).split('/')
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!
  }
  return relative(ROOT, path)
}

/**
 * Self and inclusive time per function (recursion counted once), top `limit` of each; `window`
 * keeps only samples taken between `fromMs` and `toMs` after the profile started.
 */
export function summariseProfile(file: string, limit = 25, window?: { fromMs: number; toMs: number }): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile
  const byId = new Map(p.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const selfUs = new Map<number, number>()
  let at = 0
  p.samples.forEach((id, i) => {
    const delta = p.timeDeltas[i] ?? 0
    at += delta
    if (window && (at < window.fromMs * 1000 || at > window.toMs * 1000)) return
    selfUs.set(id, (selfUs.get(id) ?? 0) + delta)
  })
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0)
  let idle = 0
  const self = new Map<string, number>()
  const inclusive = new Map<string, number>()
  const modules = new Map<string, number>()
  for (const [id, us] of selfUs) {
    const node = byId.get(id)!
    const name = frameName(node.callFrame)
    if (node.callFrame.functionName === '(idle)') idle += us
    self.set(name, (self.get(name) ?? 0) + us)
    const mod = moduleOf(node.callFrame)
    modules.set(mod, (modules.get(mod) ?? 0) + us)
    const seen = new Set<string>()
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const n = frameName(byId.get(at)!.callFrame)
      if (seen.has(n)) continue
      seen.add(n)
      inclusive.set(n, (inclusive.get(n) ?? 0) + us)
    }
  }
  const busy = total - idle
  const spot = (name: string): HotSpot => ({
    name,
    selfMs: (self.get(name) ?? 0) / 1000,
    selfPercent: (100 * (self.get(name) ?? 0)) / busy,
    totalMs: (inclusive.get(name) ?? 0) / 1000,
    totalPercent: (100 * (inclusive.get(name) ?? 0)) / busy,
  })
  const skip = (n: string) => n === '(idle)' || n === '(root)'
  const top = (m: Map<string, number>) => [...m.entries()].filter(([n]) => !skip(n)).sort((a, b) => b[1] - a[1]).slice(0, limit).map(([n]) => spot(n))
  return {
    file,
    sampledMs: total / 1000,
    busyPercent: (100 * busy) / total,
    bySelf: top(self),
    byTotal: top(inclusive),
    ownCode: top(new Map([...inclusive.entries()].filter(([n]) => n.startsWith('dist/') && !n.startsWith('dist/bench/')))),
    byModule: [...modules.entries()].filter(([m]) => m !== '(idle)').sort((a, b) => b[1] - a[1]).slice(0, 15).map(([module, us]) => ({ module, selfPercent: (100 * us) / busy })),
  }
}

export function formatProfile(s: ProfileSummary, title: string): string {
  const lines = [`${title}: ${s.sampledMs.toFixed(0)} ms sampled, ${s.busyPercent.toFixed(0)}% busy (percentages below are of busy time)`, '  self%  total%  function']
  for (const h of s.bySelf) lines.push(`  ${h.selfPercent.toFixed(1).padStart(5)}  ${h.totalPercent.toFixed(1).padStart(6)}  ${h.name}`)
  lines.push('  by module (self%): ' + s.byModule.map((m) => `${m.module} ${m.selfPercent.toFixed(1)}`).join(', '))
  return lines.join('\n')
}

// `node dist/bench/cpu-profile.js FILE.cpuprofile` prints a summary.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const f of process.argv.slice(2)) console.log(formatProfile(summariseProfile(f, 40), f) + '\n')
}
