import { execFileSync, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { cpSync, mkdtempSync } from 'node:fs'
import { connect, createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from '../support/ports.js'
import { startPostern, type PosternProcess } from '../support/server.js'
import { rewriteSignIns } from '../support/stored-credentials.js'

/**
 * A relay to the control plane that fails every request once the way a busy server closing a
 * keep-alive connection does: the connection is closed without an answer ("other side closed").
 * The same request sent again is let through, so a client that retries gets its answer.
 */
async function closeEachRequestOnce(targetPort: number): Promise<{ port: number; closed: () => number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>()
  const seen = new Set<string>()
  let closed = 0
  const server: Server = createServer((client) => {
    sockets.add(client)
    let upstream: Socket | undefined
    const end = () => {
      client.destroy()
      upstream?.destroy()
    }
    client.on('error', end).on('close', end)
    client.on('data', (d: Buffer) => {
      if (upstream) return void upstream.write(d)
      const key = createHash('sha256').update(d).digest('hex')
      if (!seen.has(key)) {
        seen.add(key)
        closed++
        return end()
      }
      upstream = connect(targetPort, '127.0.0.1')
      sockets.add(upstream)
      upstream.on('error', end).on('close', end)
      upstream.pipe(client)
      upstream.write(d)
    })
  })
  const port = await freePort()
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r))
  return {
    port,
    closed: () => closed,
    close: () => new Promise((r) => {
      for (const s of sockets) s.destroy()
      server.close(() => r())
    }),
  }
}

describe('under load: a connection closed under a request', () => {
  let p: PosternProcess
  let relay: Awaited<ReturnType<typeof closeEachRequestOnce>>
  let configDir: string
  beforeAll(async () => {
    p = await startPostern()
    for (const args of [['services', 'create', 'busy', '--upstream=http://127.0.0.1:9000'], ['users', 'create', 'ann@example.com'], ['users', 'create', 'bob@example.com']]) {
      const r = await p.cli(args)
      expect(r.code, r.stderr).toBe(0)
    }
    // The owner's CLI, talking to the server through the relay (its access token is cached, so
    // every request the commands below make goes through the relay). As if it had signed in
    // there: the CLI sends an account's tokens only to the server it signed in at.
    relay = await closeEachRequestOnce(p.controlPort)
    const relayUrl = `http://127.0.0.1:${relay.port}`
    configDir = mkdtempSync(join(tmpdir(), 'postern-relay-'))
    cpSync(p.configDir, configDir, { recursive: true })
    rewriteSignIns(configDir, (s) => ({ ...s, server: relayUrl }))
    expect((await p.cli(['config', 'set', 'server', relayUrl], { configDir })).code).toBe(0)
  })
  afterAll(async () => {
    await relay?.close()
    await p?.stop()
  })

  it('add-iam-policy-binding (a read, then a write guarded by its etag) retries on a fresh connection and succeeds', async () => {
    // $ postern services add-iam-policy-binding busy --member=user:ann@example.com --role=roles/run.invoker
    const r = await p.cli(['services', 'add-iam-policy-binding', 'busy', '--member=user:ann@example.com', '--role=roles/run.invoker'], { configDir })
    expect(r.stderr).not.toContain('other side closed')
    expect(r.code, r.stderr).toBe(0)
    expect(relay.closed()).toBe(2) // the read and the write were each cut once, and each retried
    const policy = await p.cli(['services', 'get-iam-policy', 'busy', '--format=value(bindings.members)'])
    expect(policy.stdout).toBe('user:ann@example.com\n')
  })

  it('a write that is not safe to send twice is not retried: it fails, saying why, and nothing is created', async () => {
    const r = await p.cli(['services', 'create', 'twice', '--upstream=http://127.0.0.1:9000'], { configDir })
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('other side closed')
    expect((await p.cli(['services', 'describe', 'twice'])).code).toBe(1)
  })

  it('so do 20 of them at once, with no binding lost', async () => {
    // Two people and the four roles a service takes: eight bindings, each added by two or three processes.
    const members = Array.from({ length: 20 }, (_, i) => (i < 10 ? 'user:ann@example.com' : 'user:bob@example.com'))
    const roles = Array.from({ length: 20 }, (_, i) => ['roles/run.invoker', 'roles/run.viewer', 'roles/run.developer', 'roles/run.admin'][i % 4]!)
    const results = await Promise.all(members.map((m, i) => p.cli(['services', 'add-iam-policy-binding', 'busy', `--member=${m}`, `--role=${roles[i]}`, '--quiet'], { configDir })))
    expect(results.filter((r) => r.code !== 0).map((r) => r.stderr)).toEqual([])
    const policy = JSON.parse((await p.cli(['services', 'get-iam-policy', 'busy', '--format=json'])).stdout) as { bindings: { role: string; members: string[] }[] }
    const granted = new Set(policy.bindings.flatMap((b) => b.members.map((m) => `${b.role} ${m}`)))
    for (const [i, m] of members.entries()) expect(granted.has(`${roles[i]} ${m}`), `${roles[i]} ${m}`).toBe(true)
  })
})

/** Every process below `pid` (ps lists children by parent). */
function descendants(pid: number): number[] {
  let listed = ''
  try {
    listed = execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' })
  } catch {
    // ps exits 1 when a process has no children
  }
  const children = listed.split('\n').map((l) => Number(l.trim())).filter((n) => n > 0)
  return children.flatMap((c) => [c, ...descendants(c)])
}

describe('npm start under a supervisor', () => {
  it('stops the server when npm is sent SIGTERM, freeing both ports', async () => {
    const root = mkdtempSync(join(tmpdir(), 'postern-npm-'))
    const [port, gatewayPort] = [await freePort(), await freePort()]
    const checkout = fileURLToPath(new URL('../../', import.meta.url))
    // $ npm start        (as a supervisor runs it; the suite picks free ports)
    const npm = spawn('npm', ['start', '--', '--port', String(port), '--gateway-port', String(gatewayPort), '--data-dir', join(root, 'data')], {
      cwd: checkout,
      env: { ...process.env, POSTERN_CONFIG_DIR: join(root, 'config'), npm_config_update_notifier: 'false' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    await new Promise<void>((resolve, reject) => {
      const onData = (d: Buffer) => {
        out += d
        if (out.includes('Postern is ready.')) resolve()
      }
      npm.stdout.on('data', onData)
      npm.stderr.on('data', onData)
      npm.once('exit', (code) => reject(new Error(`npm start exited ${code}:\n${out}`)))
    })
    npm.removeAllListeners('exit')
    // What npm started, so that a server left running by a failure is still stopped afterwards.
    const started = descendants(npm.pid!)
    const exited = new Promise<void>((r) => npm.once('exit', () => r()))
    npm.kill('SIGTERM')
    await exited
    // Within a few seconds nothing answers on either port.
    const refused = (p: number) => new Promise<boolean>((resolve) => {
      const s = connect(p, '127.0.0.1')
      s.once('connect', () => (s.destroy(), resolve(false)))
      s.once('error', () => resolve(true))
    })
    const deadline = Date.now() + 5_000
    while (Date.now() < deadline && !((await refused(port)) && (await refused(gatewayPort)))) await new Promise((r) => setTimeout(r, 100))
    const stopped = [await refused(port), await refused(gatewayPort)]
    for (const pid of started) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // already gone, as it should be
      }
    }
    expect(stopped, `ports ${port} and ${gatewayPort} still answer after npm was stopped`).toEqual([true, true])
  })
})
