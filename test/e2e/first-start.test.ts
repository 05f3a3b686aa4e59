import { mkdtempSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { runCli } from '../support/cli.js'
import { freePort } from '../support/ports.js'
import { startPostern, type PosternProcess } from '../support/server.js'
import { signInUser } from '../support/sign-in.js'
import { WebAgent } from '../support/web-sign-in.js'

/**
 * The first start, as a newcomer meets it: a busy port must not lock the owner out, and whoever
 * holds the data has a way back in (`postern serve --reset-owner-password`).
 */

function holdPort(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(port, '127.0.0.1', () => resolve(s))
  })
}

const release = (s: Server) => new Promise<void>((r) => s.close(() => r()))

describe('a first start with a database that cannot be reached', () => {
  it('names the database and what the connection met, never the password', async () => {
    const root = mkdtempSync(join(tmpdir(), 'postern-nodb-'))
    const r = await runCli(['serve', '--port', String(await freePort()), '--gateway-port', String(await freePort()), '--data-dir', join(root, 'data'), '--database-url', 'postgres://postgres:hunter2@127.0.0.1:1/nosuch'], { configDir: join(root, 'config'), timeoutMs: 30_000 })
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('ERROR: Cannot reach the PostgreSQL at 127.0.0.1:1 (database nosuch): connect ECONNREFUSED 127.0.0.1:1. Check --database-url and that the database is running.')
    expect(r.stderr).not.toContain('hunter2')
  })
})

describe('a first start on a busy port', () => {
  let p: PosternProcess | undefined
  afterAll(() => p?.stop())

  it('says which flag picks another port, creates nothing, and the next start creates the owner and signs the CLI in', async () => {
    const root = mkdtempSync(join(tmpdir(), 'postern-first-'))
    const dirs = { dataDir: join(root, 'data'), configDir: join(root, 'config') }
    const controlPort = await freePort()
    const gatewayPort = await freePort()
    const serve = ['serve', '--port', String(controlPort), '--gateway-port', String(gatewayPort), '--data-dir', dirs.dataDir]

    // $ postern serve            (something else holds the control port)
    let holder = await holdPort(controlPort)
    const busyControl = await runCli(serve, { configDir: dirs.configDir, timeoutMs: 30_000 })
    await release(holder)
    expect(busyControl.code).toBe(1)
    expect(busyControl.stderr).toContain(`Cannot listen on 127.0.0.1:${controlPort} for the control plane: the port is in use`)
    expect(busyControl.stderr).toContain('choose another port with --port N')
    expect(busyControl.stdout).not.toContain('Owner password')

    // $ postern serve            (now the gateway port is taken)
    holder = await holdPort(gatewayPort)
    const busyGateway = await runCli(serve, { configDir: dirs.configDir, timeoutMs: 30_000 })
    await release(holder)
    expect(busyGateway.code).toBe(1)
    expect(busyGateway.stderr).toContain('choose another port with --gateway-port N')
    expect(busyGateway.stdout).not.toContain('Owner password')

    // $ postern serve --workers 2   (the gateway port still taken): one message, no crash loop
    holder = await holdPort(gatewayPort)
    const workers = await runCli([...serve, '--workers', '2'], { configDir: dirs.configDir, timeoutMs: 30_000 })
    await release(holder)
    expect(workers.code).toBe(1)
    expect(workers.stderr).toContain('choose another port with --gateway-port N')
    expect(workers.stderr).toContain('A worker could not start (its error is above); stopped the others.')

    // $ postern serve            (the ports are free)
    p = await startPostern({ ...dirs, controlPort, gatewayPort })
    expect(p.ownerPassword).toMatch(/^\S{16,}$/)
    expect(p.output()).toContain('is signed in as owner@example.com')
    const list = await p.cli(['services', 'list'])
    expect(list.code, list.stderr).toBe(0)
  })
})

describe('postern serve --reset-owner-password', () => {
  let p: PosternProcess
  afterAll(() => p?.stop())

  it('prints a new password once, ends the owner\'s sessions and signs the local CLI in again', async () => {
    p = await startPostern()
    const oldPassword = p.ownerPassword!
    // Elsewhere, someone signed in with the old password: a CLI and a browser.
    const elsewhere = await signInUser(p, 'owner@example.com', oldPassword)
    const browser = new WebAgent(p.controlUrl)
    expect((await browser.signIn('owner@example.com', oldPassword)).status).toBe(303)
    expect((await browser.fetch('/v1/session')).status).toBe(200)

    // $ postern serve --reset-owner-password        (on the server's machine, while it runs; as the
    // README gives it, without the server's --port: the CLI's server is found to be this installation's)
    const reset = await runCli(['serve', '--reset-owner-password', '--data-dir', p.dataDir], { configDir: p.configDir })
    expect(reset.code, reset.stderr).toBe(0)
    const newPassword = /New password for owner@example\.com \(shown once, keep it safe\): (\S+)/.exec(reset.stdout)?.[1]
    expect(newPassword).toMatch(/^\S{16,}$/)
    expect(newPassword).not.toBe(oldPassword)
    expect(reset.stdout).toContain('Every session and refresh token of owner@example.com has ended')
    expect(reset.stdout).toContain('is signed in as owner@example.com')

    // The other CLI's refresh token and the browser's session are gone; the old password is refused.
    const stale = await p.cli(['services', 'list'], { configDir: elsewhere.configDir })
    expect(stale.code).toBe(1)
    expect(stale.stderr).toContain('Sign in again')
    expect((await browser.fetch('/v1/session')).status).toBe(401)
    expect((await new WebAgent(p.controlUrl).signIn('owner@example.com', oldPassword)).status).not.toBe(303)
    expect((await new WebAgent(p.controlUrl).signIn('owner@example.com', newPassword!)).status).toBe(303)

    // This machine's CLI works at once.
    const list = await p.cli(['services', 'list'])
    expect(list.code, list.stderr).toBe(0)

    // A CLI set to a server that is not this installation's is left as it is, and told how to sign in.
    const other = mkdtempSync(join(tmpdir(), 'postern-cfg-'))
    expect((await runCli(['config', 'set', 'server', 'http://127.0.0.1:9'], { configDir: other })).code).toBe(0)
    expect((await runCli(['config', 'set', 'account', 'owner@example.com'], { configDir: other })).code).toBe(0)
    const again = await runCli(['serve', '--reset-owner-password', '--data-dir', p.dataDir], { configDir: other })
    expect(again.code, again.stderr).toBe(0)
    expect(again.stdout).toContain('was left as it is')
    expect(again.stdout).toContain('postern auth login owner@example.com')
  })

  it('puts an owner back who was disabled and stripped of roles/owner', async () => {
    const q = await startPostern()
    try {
      // The owner hands the organization to a second owner, who then disables the first.
      const other = await q.cli(['users', 'create', 'second@example.com', '--password-stdin'], { stdin: 'second password, long enough' })
      expect(other.code, other.stderr).toBe(0)
      const policy = { version: 1, bindings: [{ role: 'roles/owner', members: ['user:second@example.com'] }] }
      expect((await q.api('POST', '/v1/organizations/local:setIamPolicy', { policy })).status).toBe(200)
      const second = await signInUser(q, 'second@example.com', 'second password, long enough')
      const disable = await q.cli(['users', 'disable', 'owner@example.com'], { configDir: second.configDir })
      expect(disable.code, disable.stderr).toBe(0)

      const reset = await runCli(['serve', '--reset-owner-password', '--data-dir', q.dataDir, '--port', String(q.controlPort), '--owner', 'owner@example.com'], { configDir: mkdtempSync(join(tmpdir(), 'postern-cfg-')) })
      expect(reset.code, reset.stderr).toBe(0)
      expect(reset.stdout).toContain('Also enabled owner@example.com, which was disabled.')
      expect(reset.stdout).toContain('Also granted owner@example.com roles/owner on organizations/local.')
      const password = /New password for owner@example\.com[^:]*: (\S+)/.exec(reset.stdout)![1]!
      const owner = await signInUser(q, 'owner@example.com', password)
      const users = await q.cli(['users', 'list'], { configDir: owner.configDir })
      expect(users.code, users.stderr).toBe(0)
    } finally {
      await q.stop()
    }
  })

  it('refuses a database on another machine', async () => {
    const r = await runCli(['serve', '--reset-owner-password', '--database-url', 'postgres://postern@db.example.com/postern'], { configDir: mkdtempSync(join(tmpdir(), 'postern-cfg-')) })
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('--reset-owner-password works only where the data is')
  })

  it('on an empty store, says to start the server instead', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'postern-empty-'))
    const r = await runCli(['serve', '--reset-owner-password', '--data-dir', dataDir], { configDir: mkdtempSync(join(tmpdir(), 'postern-cfg-')) })
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('This store is empty')
  })
})
