import { spawnSync } from 'node:child_process'
import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { MAX_BODY_TIMEOUT_SECONDS } from '../../src/gateway/nginx/nginx-shape.js'
import { eventually } from './eventually.js'
import type { PosternProcess } from './server.js'

/**
 * Waits until the nginx data plane of `p` forwards to `service` itself: its configuration names
 * what the service needs of it as it stands now (a named location for a timeout under a minute;
 * everything else comes in its verdicts, nginx-shape.ts), and every worker taking requests was
 * started from that configuration, the workers it retired gone. Until then nginx hands such a
 * service to Postern's own gateway (nginx-lua.ts), which answers as the Node plane does, so tests
 * of what nginx itself does with an upstream's answer wait for this first. A retired worker closes the idle keep-alive connections it kept: waiting for it to be
 * gone, and a moment more, lets a client's pool see those closed before it is asked to send on
 * one. `cliEnv` is the CLI's environment where it needs one (NODE_EXTRA_CA_CERTS for a Postern
 * serving TLS).
 */
export async function nginxHolds(p: PosternProcess, service: string, cliEnv?: Record<string, string>): Promise<void> {
  const described = await p.cli(['services', 'describe', service, '--format=json'], { env: cliEnv })
  const { timeoutSeconds } = JSON.parse(described.stdout) as { timeoutSeconds: number }
  const needed = timeoutSeconds < MAX_BODY_TIMEOUT_SECONDS ? `location @postern_t${timeoutSeconds} ` : ''
  const dir = join(p.dataDir, 'nginx')
  await eventually(15_000, () => {
    // The text before the time: a configuration put in place between the two is only waited for longer.
    if (!read(join(dir, 'nginx.conf')).includes(needed)) return false
    const written = statSync(join(dir, 'nginx.conf')).mtimeMs
    const master = read(join(dir, 'nginx.pid')).trim()
    const workers = spawnSync('pgrep', ['-P', master]).stdout.toString().split('\n').filter(Boolean)
    // Start times are known to a clock tick (10 ms) from boot: 30 ms of slack, where reloads are far further apart.
    return workers.length > 0 && workers.every((pid) => startedAt(pid) >= written - 30)
  }, `nginx holding the service ${service}`)
  await new Promise((r) => setTimeout(r, 100))
}

const read = (path: string) => {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return ''
  }
}

/** When a process started (ms since the epoch, to a clock tick), from /proc; a process gone since pgrep named it counts as new. */
function startedAt(pid: string): number {
  const stat = read(`/proc/${pid}/stat`)
  if (stat === '') return Infinity
  const ticks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19])
  const uptime = Number(read('/proc/uptime').split(' ')[0])
  return Date.now() - uptime * 1000 + ticks * 10
}
