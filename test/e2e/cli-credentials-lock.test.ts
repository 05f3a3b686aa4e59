import { spawn } from 'node:child_process'
import { utimesSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from '../support/cli.js'
import { startPostern, type PosternProcess } from '../support/server.js'
import { rewriteSignIns } from '../support/stored-credentials.js'

/**
 * The CLI's credentials lock among concurrent commands: a refresh token presented twice ends the
 * whole sign-in, so a lock is taken over only from a holder that is gone (killed, Ctrl-C), at
 * once, and never from one that is alive however long it takes (a server slower than the old
 * 30 s staleness, as a stopped server or a slow database makes it).
 */
describe('the CLI credentials lock', () => {
  let p: PosternProcess
  beforeAll(async () => {
    p = await startPostern()
  })
  afterAll(async () => {
    await p?.stop()
  })

  const lock = () => join(p.configDir, 'credentials.lock')
  /** Every cached token stale: the next command refreshes under the lock. */
  const staleTokens = () => rewriteSignIns(p.configDir, (s) => ({ ...s, accessTokenExpiry: 1, idTokenExpiry: 1 }))
  const deadPid = async () => {
    const child = spawn('true')
    await new Promise((r) => child.once('exit', r))
    return child.pid!
  }

  it('a lock left by a process that is gone is taken at once, and twenty commands refresh once between them', async () => {
    staleTokens()
    writeFileSync(lock(), `${await deadPid()}\n${hostname()}\n`)
    const started = Date.now()
    const runs = await Promise.all(Array.from({ length: 20 }, () => p.cli(['auth', 'print-identity-token'])))
    expect(runs.map((r) => r.code), runs.map((r) => r.stderr).join('')).toEqual(runs.map(() => 0))
    expect(Date.now() - started).toBeLessThan(20_000)
    expect(new Set(runs.map((r) => r.stdout)).size).toBe(1)
    expect((await p.cli(['services', 'list'])).code).toBe(0)
  })

  it('a lock left by an older CLI (no holder in it) is taken once it is a few seconds old', async () => {
    staleTokens()
    writeFileSync(lock(), '')
    const old = new Date(Date.now() - 60_000)
    utimesSync(lock(), old, old)
    const r = await p.cli(['auth', 'print-identity-token'])
    expect(r.code, r.stderr).toBe(0)
  })

  it('a live holder is waited for, not taken over; once it is gone the command goes on', async () => {
    staleTokens()
    const holder = spawn('sleep', ['60'])
    writeFileSync(lock(), `${holder.pid}\n${hostname()}\n`)
    const waiting = runCli(['auth', 'print-identity-token'], { configDir: p.configDir })
    let done = false
    void waiting.then(() => (done = true))
    await new Promise((r) => setTimeout(r, 3_000))
    expect(done).toBe(false)
    holder.kill('SIGKILL')
    const r = await waiting
    expect(r.code, r.stderr).toBe(0)
    expect((await p.cli(['services', 'list'])).code).toBe(0)
  })
})
