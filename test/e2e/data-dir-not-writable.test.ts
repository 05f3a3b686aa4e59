import { spawn } from 'node:child_process'
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { BIN, type CliResult } from '../support/cli.js'
import { freePort } from '../support/ports.js'
import { startPostern, type PosternProcess } from '../support/server.js'

/**
 * A data directory the user running `postern serve` may read but not write (another owner, a
 * read-only mount) is said as such — which directory, and what to do — rather than as the EACCES
 * of a scratch file: an existing master.key is read without writing anything beside it.
 */
describe('a data directory this user cannot write', () => {
  const started: PosternProcess[] = []
  afterAll(() => Promise.all(started.map((p) => p.stop())))

  // Root writes anywhere: as root the server runs as nobody, for whom the directory (root's, 0755) is read-only.
  const asRoot = process.getuid?.() === 0
  const NOBODY = 65534

  /** The data dir (and the way to it) readable by the user serve runs as, and writable by no one but its owner. */
  const readOnly = (dataDir: string) => {
    for (const dir of [dirname(dataDir), dataDir]) chmodSync(dir, asRoot ? 0o755 : 0o555)
    for (const name of readdirSync(dataDir)) chmodSync(join(dataDir, name), 0o644)
  }

  const escaped = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

  const serve = async (dataDir: string): Promise<CliResult> => {
    const configDir = mkdtempSync(join(tmpdir(), 'postern-read-only-'))
    chmodSync(configDir, 0o777)
    const args = [BIN, 'serve', '--port', String(await freePort()), '--gateway-port', String(await freePort()), '--data-dir', dataDir]
    const child = spawn(process.execPath, args, { env: { ...process.env, POSTERN_CONFIG_DIR: configDir }, stdio: ['ignore', 'pipe', 'pipe'], ...(asRoot && { uid: NOBODY, gid: NOBODY }) })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d))
    child.stderr.on('data', (d: Buffer) => (stderr += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000)
    const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? -1)))
    clearTimeout(timer)
    return { code, stdout, stderr }
  }

  it('with master.key and the database there: refused, naming the directory; nothing is written into it', async () => {
    const p = await startPostern()
    started.push(p)
    await p.stop()
    for (const f of ['postern.db-wal', 'postern.db-shm']) rmSync(join(p.dataDir, f), { force: true })
    readOnly(p.dataDir)
    const before = readdirSync(p.dataDir).sort()

    const r = await serve(p.dataDir)
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(new RegExp(`^ERROR: The data directory ${escaped(p.dataDir)} is not writable by this user( \\(uid \\d+\\))?: EACCES: permission denied`, 'm'))
    expect(r.stderr).toContain(`The embedded database ${join(p.dataDir, 'postern.db')} and its journal are written there. Run postern serve as the user that owns it, give this user write access to it, or choose another with --data-dir.`)
    expect(r.stderr).not.toContain('master.key.') // no scratch copy of the key was tried
    expect(readdirSync(p.dataDir).sort()).toEqual(before)
  }, 60_000)

  it('the database file read-only (0400) in a writable directory: refused, naming the file, the user and the fix; its mode left as it was', async () => {
    const p = await startPostern()
    started.push(p)
    await p.stop()
    const file = join(p.dataDir, 'postern.db')
    for (const f of ['postern.db-wal', 'postern.db-shm']) rmSync(join(p.dataDir, f), { force: true })
    // As root, the data dir is nobody's (writable by the user serve runs as), the file nobody's too.
    if (asRoot) {
      chmodSync(dirname(p.dataDir), 0o755)
      for (const f of [p.dataDir, ...readdirSync(p.dataDir).map((name) => join(p.dataDir, name))]) chownSync(f, NOBODY, NOBODY)
    }
    chmodSync(file, 0o400)

    const r = await serve(p.dataDir)
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(new RegExp(`^ERROR: The file ${escaped(file)} is not writable by this user( \\(uid \\d+\\))?: EACCES: permission denied`, 'm'))
    expect(r.stderr).toContain(`Postern writes the embedded database and its journal (-wal, -shm) beside it. Run postern serve as the user that owns it, or give this user write access to it (as its owner: chmod u+w ${file}; or chown it to this user).`)
    expect(r.stderr).not.toContain('read-only file or file system')
    // SQLite opened it read-only without a word, and the start's chmod 0600 made it writable behind the operator's back.
    expect(statSync(file).mode & 0o777).toBe(0o400)
  }, 60_000)

  it('a first start (no master.key yet): refused, naming the directory, before anything else', async () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), 'postern-read-only-')), 'data')
    mkdirSync(dataDir)
    readOnly(dataDir)

    const r = await serve(dataDir)
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(new RegExp(`^ERROR: The data directory ${escaped(dataDir)} is not writable by this user( \\(uid \\d+\\))?: EACCES: permission denied`, 'm'))
    expect(r.stderr).toContain(`Postern keeps its master key there (${join(dataDir, 'master.key')}, made on first start; or set POSTERN_MASTER_KEY).`)
    expect(readdirSync(dataDir)).toEqual([])
  }, 60_000)
})
