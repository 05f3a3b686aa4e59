import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import type { StoreOptions } from '../../src/store/open-store.js'

/** The compiled store: `npm test` builds it before vitest runs, so the child needs no TypeScript loader. */
const COMPILED_STORE = fileURLToPath(new URL('../../dist/store/open-store.js', import.meta.url))

/**
 * A separate Node process that writes as fast as it can, in several concurrent lanes so some
 * writes are always in flight, and prints `ack N` only after write N's promise has resolved.
 * Write N is: user `durable-N@example.com` plus its change (one transaction), then an audit entry
 * for resource `durable/N` (autocommit).
 */
const SCRIPT = `
const { openStore } = await import(process.env.POSTERN_STORE_MODULE)
const store = await openStore({
  dataDir: process.env.POSTERN_DATA_DIR,
  databaseUrl: process.env.POSTERN_DATABASE_URL || undefined,
  clock: Date.now,
  onError: (err) => console.error(err),
})
process.stdout.write('ready\\n')
let next = 0
const lane = async () => {
  for (;;) {
    const n = next++
    const email = 'durable-' + n + '@example.com'
    await store.transaction(async (tx) => {
      await tx.insertUser({ email, uid: 'uid-' + n, displayName: 'D' + n, passwordHash: null, disabled: false, createTime: n, updateTime: n })
      await tx.recordChange('user', email)
    })
    await store.appendAudit({ time: n, principal: 'user:' + email, method: 'durability', resource: 'durable/' + n, outcome: 'OK', details: { n } })
    process.stdout.write('ack ' + n + '\\n')
  }
}
await Promise.all([lane(), lane(), lane(), lane()])
`

export interface KilledWriter {
  acknowledged: number[]
  signal: NodeJS.Signals | null
  stderr: string
}

/** Runs the writer until it has acknowledged `count` writes, then kills it with SIGKILL (no chance to flush or close). */
export async function runAndKillWriter(o: StoreOptions, count: number): Promise<KilledWriter> {
  if (!existsSync(COMPILED_STORE)) throw new Error(`${COMPILED_STORE} is missing: run \`npm run build\` (npm test does) before this suite.`)
  const child = spawn(process.execPath, ['--input-type=module', '-e', SCRIPT], {
    env: { ...process.env, POSTERN_STORE_MODULE: COMPILED_STORE, POSTERN_DATA_DIR: o.dataDir, POSTERN_DATABASE_URL: o.databaseUrl ?? '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)))
  const acknowledged: number[] = []
  for await (const line of createInterface({ input: child.stdout })) {
    const m = /^ack (\d+)$/.exec(line)
    if (m) acknowledged.push(Number(m[1]))
    if (acknowledged.length >= count) {
      child.kill('SIGKILL')
      break
    }
  }
  const signal = await exited
  if (acknowledged.length < count) throw new Error(`the writer stopped after ${acknowledged.length} writes:\n${stderr}`)
  return { acknowledged, signal, stderr }
}
