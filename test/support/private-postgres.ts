import { execFileSync } from 'node:child_process'
import { chownSync, mkdtempSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './ports.js'

/**
 * A PostgreSQL server of the test's own (its own port and data directory), so a test can stop
 * and restart it without touching the machine's server. initdb refuses to run as root, so as root
 * it runs as the postgres user.
 */
export interface PrivatePostgres {
  url: string
  port: number
  stop(): void
  start(): void
  destroy(): void
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const version = readdirSync('/usr/lib/postgresql').sort().at(-1)
  if (!version) throw new Error('PostgreSQL server binaries not found under /usr/lib/postgresql')
  const bin = (name: string) => `/usr/lib/postgresql/${version}/bin/${name}`
  const dir = mkdtempSync(join(tmpdir(), 'postern-pg-'))
  const root = process.getuid?.() === 0
  if (root) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim())
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim())
    chownSync(dir, uid, gid)
  }
  const run = (cmd: string, args: string[]) => execFileSync(root ? 'runuser' : cmd, root ? ['-u', 'postgres', '--', cmd, ...args] : args, { stdio: 'pipe' })
  const port = await freePort()
  const data = join(dir, 'data')
  run(bin('initdb'), ['-D', data, '--auth=trust', '-U', 'postgres', '--no-sync'])
  const start = () => run(bin('pg_ctl'), ['-D', data, '-l', join(dir, 'log'), '-w', '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=on`, 'start'])
  const stop = () => run(bin('pg_ctl'), ['-D', data, '-m', 'fast', '-w', 'stop'])
  start()
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    start,
    stop,
    destroy() {
      try {
        stop()
      } catch {
        /* already stopped */
      }
    },
  }
}
