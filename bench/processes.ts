import { spawn, type ChildProcess } from 'node:child_process'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { connect, createServer } from 'node:net'

/** A child process the bench started, its output kept, stopped by its own pid only. */
export interface Started {
  child: ChildProcess
  pid: number
  /** performance.now() at spawn (a CPU profile's clock starts about then). */
  spawnedAt: number
  output(): string
  stop(): Promise<void>
}

export async function startProcess(
  command: string,
  args: readonly string[],
  o: { env?: NodeJS.ProcessEnv; readyText?: string; readyPort?: number; timeoutMs?: number; cwd?: string },
): Promise<Started> {
  const spawnedAt = performance.now()
  const child = spawn(command, args, { env: o.env ?? process.env, cwd: o.cwd, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  const keep = (d: Buffer) => {
    out += d.toString()
    if (out.length > 1_000_000) out = out.slice(-500_000)
  }
  child.stdout!.on('data', keep)
  child.stderr!.on('data', keep)
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const started: Started = {
    child,
    pid: child.pid ?? -1,
    spawnedAt,
    output: () => out,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
      await exited
      clearTimeout(timer)
    },
  }
  const deadline = Date.now() + (o.timeoutMs ?? 60_000)
  const description = `${command} ${args.join(' ')}`
  let ready = false
  await new Promise<void>((resolve, reject) => {
    const fail = (why: string) => {
      if (!ready) reject(new Error(`${description}: ${why}\n${out.slice(-4000)}`))
    }
    child.once('error', (err) => fail(err.message))
    child.once('exit', (code, signal) => fail(`exited (${code ?? signal}) before it was ready`))
    const poll = async () => {
      while (Date.now() < deadline) {
        if (child.exitCode !== null) return
        const done = (o.readyText === undefined || out.includes(o.readyText)) && (o.readyPort === undefined || (await portOpen(o.readyPort)))
        if (done) {
          ready = true
          return resolve()
        }
        await sleep(5)
      }
      fail('not ready in time')
    }
    void poll()
  })
  return started
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/** A loopback port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number }
      srv.close(() => resolve(port))
    })
  })
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port })
    s.once('connect', () => {
      s.destroy()
      resolve(true)
    })
    s.once('error', () => resolve(false))
  })
}

/** Runs a command to completion and returns its output (for wrk and the CLI). */
export function run(command: string, args: readonly string[], o: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: o.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d))
    child.stderr.on('data', (d: Buffer) => (stderr += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 120_000)
    child.once('error', reject)
    child.once('close', (code) => {
      clearTimeout(timer)
      resolve({ code: code ?? -1, stdout, stderr })
    })
  })
}

// --- /proc: CPU time and peak RSS of the processes under test -------------------------------

const CLK_TCK = 100

/**
 * utime + stime in seconds (proc(5): fields 14 and 15, counted after the `(comm)` field); with
 * `reaped`, also cutime + cstime (16, 17): children that ended and were waited for, like wrk.
 */
export function cpuSeconds(pid: number, reaped = false): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number)
  return (f[11]! + f[12]! + (reaped ? f[13]! + f[14]! : 0)) / CLK_TCK
}

/** Resets the peak RSS (VmHWM) to the current RSS (proc(5), clear_refs value 5). */
export function resetPeakRss(pid: number): void {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5')
  } catch {
    // Older kernels or other users' processes: the peak then covers the process's whole life.
  }
}

export function statusKb(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) : NaN
}

/** Direct children of a process (nginx's workers under its master). */
export function childrenOf(pid: number): number[] {
  const out: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      if (ppid === pid) out.push(Number(entry))
    } catch {
      // The process ended while we looked.
    }
  }
  return out
}

/** A process and everything below it (`serve --workers N`: the primary and its workers). */
export function treeOf(pid: number): number[] {
  const out = [pid]
  for (let i = 0; i < out.length; i++) out.push(...childrenOf(out[i]!))
  return out
}

/** CPU used and peak RSS of a set of processes over one measured interval. */
export class Meter {
  private readonly startCpu: number[]
  private readonly startTime = performance.now()

  constructor(readonly pids: readonly number[]) {
    for (const pid of pids) resetPeakRss(pid)
    this.startCpu = pids.map((pid) => cpuSeconds(pid))
  }

  /** Cores used on average; peak RSS summed over the processes, and of the largest one. */
  read(): { cores: number; peakRssMb: number; maxProcessPeakRssMb: number } {
    const seconds = (performance.now() - this.startTime) / 1000
    let cpu = 0
    this.pids.forEach((pid, i) => (cpu += cpuSeconds(pid) - this.startCpu[i]!))
    const peaks = this.pids.map((pid) => statusKb(pid, 'VmHWM') / 1024)
    return { cores: cpu / seconds, peakRssMb: peaks.reduce((a, b) => a + b, 0), maxProcessPeakRssMb: Math.max(...peaks) }
  }
}

/**
 * What else the machine did during a run: CPU used by processes outside the bench's own tree
 * (the machine is shared) and time stolen by the hypervisor, in cores; and, to account for the
 * whole machine, the load generator's CPU (wrk: the bench's children reaped during the run, its
 * start-up included) and the cores left idle.
 */
export class MachineMeter {
  private readonly start = MachineMeter.sample()
  private readonly startTime = performance.now()

  private static sample(): { busy: number; steal: number; idle: number; ours: number; reaped: number } {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number)
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = cpu
    let ours = 0
    for (const pid of treeOf(process.pid)) {
      try {
        ours += cpuSeconds(pid, pid === process.pid)
      } catch {
        // Ended while we looked.
      }
    }
    const reaped = cpuSeconds(process.pid, true) - cpuSeconds(process.pid)
    return { busy: (user + nice + system + irq + softirq) / CLK_TCK, steal: steal / CLK_TCK, idle: (idle + iowait) / CLK_TCK, ours, reaped }
  }

  read(): { otherCores: number; stealCores: number; generatorCores: number; idleCores: number } {
    const end = MachineMeter.sample()
    const seconds = (performance.now() - this.startTime) / 1000
    const cores = (key: 'steal' | 'idle' | 'reaped') => (end[key] - this.start[key]) / seconds
    return { otherCores: (end.busy - this.start.busy - (end.ours - this.start.ours)) / seconds, stealCores: cores('steal'), generatorCores: cores('reaped'), idleCores: cores('idle') }
  }
}
