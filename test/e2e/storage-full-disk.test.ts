import { execFileSync } from 'node:child_process'
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { startPostern, type PosternProcess } from '../support/server.js'

/** A small tmpfs, the full disk made real: mounting one needs root (CAP_SYS_ADMIN); undefined where that is refused. */
function smallDisk(): string | undefined {
  if (process.getuid?.() !== 0) return undefined
  const dir = mkdtempSync(join(tmpdir(), 'postern-full-disk-'))
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m,mode=0700', 'tmpfs', dir], { stdio: 'ignore' })
    return dir
  } catch {
    rmSync(dir, { recursive: true, force: true })
    return undefined
  }
}

/** Writes into `file` until the disk is full (ENOSPC). */
function fill(file: string): void {
  const fd = openSync(file, 'w')
  const chunk = Buffer.alloc(64 * 1024, 1)
  try {
    for (;;) writeSync(fd, chunk)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err
  } finally {
    closeSync(fd)
  }
}

const disk = smallDisk()

/**
 * A full disk refused every write with a 503 that told the caller, and nothing else: /readyz
 * said ready and the log said nothing, so an operator heard of it from callers. Now one error
 * line when writes start being refused, one line when they are taken again, and /readyz and
 * /metrics say it meanwhile. /readyz stays 200: the process still decides every request from a
 * current view, and the only process on an embedded store taken out of its load balancer would
 * refuse reads and token checks too.
 */
describe.skipIf(!disk)('the disk holding the embedded database full (a real 8 MB tmpfs; needs root to mount)', () => {
  let p: PosternProcess | undefined
  afterAll(async () => {
    await p?.stop()
    if (disk) {
      execFileSync('umount', [disk])
      rmSync(disk, { recursive: true, force: true })
    }
  })

  const readyz = async (q: PosternProcess) => {
    const res = await fetch(`${q.controlUrl}/readyz`)
    return { status: res.status, body: (await res.json()) as Record<string, unknown> }
  }
  const refusedGauge = async (q: PosternProcess) => {
    const res = await fetch(`${q.controlUrl}/metrics`, { headers: { authorization: `Bearer ${await q.ownerToken()}` } })
    return /^postern_database_writes_refused (\d)$/m.exec(await res.text())?.[1]
  }
  const logLines = (q: PosternProcess, msg: string) => q.output().split('\n').filter((l) => l.includes(`"msg":"${msg}`))

  it('is logged once as writes start being refused and once as one is taken again; /readyz and /metrics say so meanwhile', async () => {
    p = await startPostern({ dataDir: join(disk!, 'data') })
    const owner = await p.ownerToken()
    expect((await p.api('POST', '/v1/users', { email: 'before@example.com' }, owner)).status).toBe(200)
    expect(await refusedGauge(p)).toBe('0')

    const filler = join(disk!, 'filler')
    fill(filler)
    // The WAL may have room left from earlier writes: the first few may still be taken.
    let refused: { status: number; body: { error?: { message?: string } } } | undefined
    for (let i = 0; i < 500 && !refused; i++) {
      const r = await p.api<{ error?: { message?: string } }>('POST', '/v1/users', { email: `u${i}-${'x'.repeat(40)}@example.com`, displayName: 'y'.repeat(100) }, owner)
      if (r.status !== 200) refused = r
    }
    expect(refused).toMatchObject({ status: 503, body: { error: { message: expect.stringContaining('The disk holding the database is full; nothing was changed.') } } })
    // A second refused write adds no line.
    expect((await p.api('POST', '/v1/users', { email: 'again@example.com' }, owner)).status).toBe(503)
    const began = logLines(p, 'the database refuses writes')
    expect(began).toHaveLength(1)
    expect(JSON.parse(began[0]!)).toMatchObject({ level: 'error', condition: 'The disk holding the database is full' })
    expect(await readyz(p)).toMatchObject({ status: 200, body: { status: 'ready', database: 'ok', writesRefused: 'The disk holding the database is full' } })
    expect(await refusedGauge(p)).toBe('1')
    expect(logLines(p, 'the database takes writes again')).toHaveLength(0)

    rmSync(filler)
    expect((await p.api('POST', '/v1/users', { email: 'after@example.com' }, owner)).status).toBe(200)
    const ended = logLines(p, 'the database takes writes again')
    expect(ended).toHaveLength(1)
    expect(JSON.parse(ended[0]!)).toMatchObject({ level: 'info', refusedWrites: expect.any(Number), refusedForMs: expect.any(Number) })
    expect(JSON.parse(ended[0]!).refusedWrites).toBeGreaterThanOrEqual(2)
    const ready = await readyz(p)
    expect(ready.status).toBe(200)
    expect(ready.body).not.toHaveProperty('writesRefused')
    expect(await refusedGauge(p)).toBe('0')
    expect(logLines(p, 'the database refuses writes')).toHaveLength(1)
  }, 120_000)
})
