import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import { request } from 'undici'
import { afterEach, beforeAll, afterAll, describe, expect, it } from 'vitest'
import { eventually } from '../support/eventually.js'
import { startPostern, type PosternProcess } from '../support/server.js'
import { startUpstream } from '../support/upstream.js'

/** A process as it was seen: its pid and when it started (a pid given to another process later is not it). */
interface Seen {
  pid: number
  start: string
}

const read = (path: string) => {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return ''
  }
}

/** /proc/PID/stat's fields after the command's name: [0] state, [1] ppid, [19] start time. */
const statOf = (pid: number) => {
  const stat = read(`/proc/${pid}/stat`)
  return stat === '' ? undefined : stat.slice(stat.lastIndexOf(')') + 2).split(' ')
}
const seen = (pid: number): Seen | undefined => {
  const stat = statOf(pid)
  return stat && { pid, start: stat[19]! }
}
/** Still that process, and not a zombie (a zombie holds no port and runs nothing). */
const alive = (s: Seen) => {
  const stat = statOf(s.pid)
  return stat !== undefined && stat[19] === s.start && stat[0] !== 'Z'
}
const childrenOf = (pid: number) => spawnSync('pgrep', ['-P', String(pid)]).stdout.toString().split('\n').filter(Boolean).map(Number)

/** The nginx master of `p`'s data plane, from its pid file, checked to be that Postern's own child (nothing else is ever signalled). */
function masterOf(p: PosternProcess): number {
  const pid = Number(read(join(p.dataDir, 'nginx', 'nginx.pid')).trim())
  expect(pid).toBeGreaterThan(0)
  expect(childrenOf(p.pid)).toContain(pid)
  return pid
}
/** The master and its workers, as they are now. */
const nginxOf = (master: number): Seen[] => [master, ...childrenOf(master)].map(seen).filter((s): s is Seen => s !== undefined)

const accepts = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = connect(port, '127.0.0.1')
    s.once('connect', () => (s.destroy(), resolve(true)))
    s.once('error', () => resolve(false))
  })

/** SIGTERM, and how long Postern took to exit: fails (and kills it) past `ms` rather than hang the suite. */
async function stopWithin(p: PosternProcess, ms: number): Promise<number> {
  const started = Date.now()
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), ms)))
  const outcome = await Promise.race([p.stop('SIGTERM').then(() => 'stopped' as const), late])
  clearTimeout(timer)
  if (outcome === 'late') {
    p.signal('SIGKILL')
    throw new Error(`postern serve did not exit within ${ms} ms of SIGTERM:\n${p.output().slice(-3000)}`)
  }
  return Date.now() - started
}

/**
 * The nginx master killed outright while Postern lives (the OOM killer, a stray kill -9): its
 * workers, orphaned, quit by themselves within seconds instead of serving the gateway port
 * forever; Postern notices, starts nginx again once the port is free, and still stops promptly
 * on SIGTERM, leaving no nginx behind and the port free for the next `postern serve`.
 */
describe('the nginx data plane when its nginx master is killed outright', () => {
  let upstream: Awaited<ReturnType<typeof startUpstream>>
  const started: PosternProcess[] = []
  beforeAll(async () => {
    upstream = await startUpstream()
  })
  afterEach(async () => {
    for (const p of started.splice(0)) if (p.running()) p.signal('SIGKILL')
  })
  afterAll(async () => {
    await upstream?.close()
  })

  async function serving(o: { gatewayPort?: number } = {}) {
    const p = await startPostern({ dataPlane: 'nginx', ...o })
    started.push(p)
    expect((await p.cli(['services', 'create', 'web', `--upstream=${upstream.url}`])).code).toBe(0)
    expect((await p.cli(['services', 'add-iam-policy-binding', 'web', '--member=user:owner@example.com', '--role=roles/run.invoker'])).code).toBe(0)
    const token = await p.ownerIdToken()
    const call = async (path = '/echo') => {
      try {
        const r = await request(`http://127.0.0.1:${p.gatewayPort}${path}`, { headers: { host: `web.my-project.localhost:${p.gatewayPort}`, authorization: `Bearer ${token}` }, headersTimeout: 5_000, bodyTimeout: 5_000 })
        await r.body.dump()
        return r.statusCode
      } catch {
        return 0
      }
    }
    await eventually(10_000, async () => (await call()) === 200, 'the service through nginx')
    return { p, call }
  }

  it('the old nginx quits by itself, Postern starts a new one, stops promptly after and frees the port', async () => {
    const { p, call } = await serving()
    const master = masterOf(p)
    const old = nginxOf(master)
    expect(old.length).toBeGreaterThan(1)

    process.kill(master, 'SIGKILL')
    // Every worker, not only the first, sees its master gone and quits (they were idle).
    await eventually(5_000, () => old.every((s) => !alive(s)), 'every process of the killed nginx gone')
    await eventually(15_000, async () => (await call()) === 200, 'the gateway serving again')
    const again = masterOf(p)
    expect(again).not.toBe(master)
    expect(p.output()).toMatch(/nginx exited without being asked to; starting it again[^\n]*"signal":"SIGKILL"/)
    // Logged once the new nginx answers, so the line may come a moment after the 200 above.
    await eventually(3_000, () => /nginx started again/.test(p.output()), 'the restart logged')
    const ready = await request(`http://127.0.0.1:${p.gatewayPort}/readyz`)
    expect(ready.statusCode).toBe(200)
    await ready.body.dump()

    const now = nginxOf(again)
    expect(await stopWithin(p, 8_000)).toBeLessThan(8_000)
    await eventually(3_000, () => now.every((s) => !alive(s)), 'no nginx left after Postern stopped')
    expect(await accepts(p.gatewayPort)).toBe(false)

    // The port is free for the next Postern.
    const next = await serving({ gatewayPort: p.gatewayPort })
    expect(await next.call()).toBe(200)
    await stopWithin(next.p, 8_000)
  })

  it('an nginx that keeps dying: Postern gives up, stops and exits 1 for its supervisor, leaving no nginx', async () => {
    const { p } = await serving()
    const killed: Seen[][] = []
    let master = masterOf(p)
    // Five unasked exits within a minute are started again; the sixth is not.
    for (let i = 0; i < 6; i++) {
      killed.push(nginxOf(master))
      process.kill(master, 'SIGKILL')
      if (i === 5) break
      const before = master
      await eventually(15_000, () => {
        const now = Number(read(join(p.dataDir, 'nginx', 'nginx.pid')).trim())
        return now !== before && childrenOf(p.pid).includes(now) && childrenOf(now).length > 0
      }, `nginx started again after kill ${i + 1}`)
      master = masterOf(p)
    }
    // Giving up stops Postern as SIGTERM does: its listeners drain (up to 5 s) beside nginx's stop
    // (up to 5 s more if one is starting as it gives up); a loaded machine once took past 10 s.
    await eventually(20_000, () => !p.running(), 'postern serve exiting')
    expect(p.exitCode).toBe(1)
    expect(p.output()).toContain('nginx exited without being asked to, 6 times within a minute')
    expect(p.output()).toMatch(/ERROR: nginx exited without being asked to, 6 times within a minute .*Postern stopped/)
    await eventually(5_000, () => killed.flat().every((s) => !alive(s)), 'every process of every killed nginx gone')
    await eventually(2_000, async () => !(await accepts(p.gatewayPort)), 'the gateway port free')
  })

  it('SIGTERM to Postern just after its nginx master died: exits within seconds, and no nginx is left holding the port', async () => {
    const { p } = await serving()
    const master = masterOf(p)
    const old = nginxOf(master)
    process.kill(master, 'SIGKILL')
    await eventually(2_000, () => !alive(old[0]!), 'the master gone')
    expect(await stopWithin(p, 8_000)).toBeLessThan(8_000)
    await eventually(5_000, () => old.every((s) => !alive(s)), 'every process of the killed nginx gone')
    await eventually(2_000, async () => !(await accepts(p.gatewayPort)), 'the gateway port free')
    expect(p.output()).not.toMatch(/nginx started again/)
  })
})
