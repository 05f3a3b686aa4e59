import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { gatewayStatus } from '../support/gateway-status.js'
import { startPostern, type PosternProcess } from '../support/server.js'

/**
 * `postern` must be a command in a newcomer's shell: the README's PATH set-up gives one, and
 * every hint the server prints works when pasted into a shell that had none.
 */

const CHECKOUT = fileURLToPath(new URL('../../', import.meta.url))
/** A shell as a newcomer has it: node and the system's tools, no postern anywhere. */
const BARE_PATH = '/usr/local/bin:/usr/bin:/bin'

function bash(script: string, env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', script], { cwd: CHECKOUT, env: { HOME: mkdtempSync(join(tmpdir(), 'postern-home-')), PATH: BARE_PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d))
    child.stderr.on('data', (d: Buffer) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }))
  })
}

describe('the postern command in a newcomer\'s shell', () => {
  it('is not there before the README\'s set-up (so the test means something)', async () => {
    expect((await bash('postern --version')).stderr).toContain('postern: command not found')
  })

  it('is there after the README\'s PATH line, run in the checkout', async () => {
    const readme = readFileSync(join(CHECKOUT, 'README.md'), 'utf8')
    const line = readme.split('\n').find((l) => l.startsWith('export PATH='))
    expect(line, 'the README has an export PATH= line').toBeDefined()
    const r = await bash(`${line}\npostern --version`)
    expect(r.stderr).toBe('')
    expect(r.stdout).toBe('postern 0.1.0\n')
  })
})

describe('the hints postern serve prints', () => {
  let p: PosternProcess
  afterAll(() => p?.stop())

  it('work as pasted into a shell without postern: the PATH line, the curl, the 403\'s command', async () => {
    // Started as `npm start` starts it: npm's node_modules/.bin and node-gyp-bin before the user's PATH.
    const npmPath = `${join(CHECKOUT, 'node_modules/.bin')}:/node_modules/.bin:/usr/lib/node_modules/npm/node_modules/@npmcli/run-script/lib/node-gyp-bin:${BARE_PATH}`
    p = await startPostern({ args: ['--demo'], env: { PATH: npmPath, npm_lifecycle_event: 'start' } })
    const hint = /try, in another shell:\n((?: {2}.*\n)+)/.exec(p.output())?.[1]
    expect(hint, p.output()).toBeDefined()
    const lines = hint!.split('\n').map((l) => l.trim()).filter(Boolean)
    expect(lines[0]).toBe(`export PATH="${join(CHECKOUT, 'node_modules/.bin')}:$PATH"`)
    expect(lines[1]).toMatch(/^curl -H "Authorization: Bearer \$\(postern auth print-identity-token\)" http:\/\/hello\.my-project\.localhost:\d+$/)

    const env = { POSTERN_CONFIG_DIR: p.configDir }
    const owner = await bash(lines.join('\n'), env)
    expect(owner.stderr).not.toContain('command not found')
    expect(owner.stdout).toContain("This is Postern's demo upstream")

    // Someone without the role gets a 403 naming the command an admin runs; pasted, it grants.
    const create = await p.cli(['users', 'create', 'dev@example.com', '--password-stdin'], { stdin: 'a long enough password' })
    expect(create.code, create.stderr).toBe(0)
    const { signInUser } = await import('../support/sign-in.js')
    const dev = await signInUser(p, 'dev@example.com', 'a long enough password')
    const refused = await bash(`${lines[0]}\n${lines[1]!.replace('curl ', 'curl -s ')}`, { POSTERN_CONFIG_DIR: dev.configDir })
    const command = /an admin can run: (postern [^;"]+)/.exec(refused.stdout)?.[1]
    expect(command, refused.stdout).toBeDefined()
    const grant = await bash(`${lines[0]}\n${command}`, env)
    expect(grant.code, grant.stderr).toBe(0)
    const allowed = await bash(lines.join('\n'), { POSTERN_CONFIG_DIR: dev.configDir })
    expect(allowed.stdout).toContain("This is Postern's demo upstream")
  })

  // (Here, on the demo server already started: a restart of `npm start` is what a newcomer does next.)
  it('a restart points hello at the new demo upstream and keeps what an admin changed on it', async () => {
    const settings = ['services', 'describe', 'hello', '--format=value(browserAccess,strictAudience,timeoutSeconds,description,labels,upstream)']
    // Its labels all replaced, the demo's own too: hello is still the demo's.
    const update = await p.cli(['services', 'update', 'hello', '--browser-access=off', '--strict-audience', '--timeout=60', '--description=mine', '--clear-labels', '--update-labels=team=x'])
    expect(update.code, update.stderr).toBe(0)
    const before = (await p.cli(settings)).stdout.trim().split('\t')
    expect(before.slice(0, 5)).toEqual(['false', 'true', '60', 'mine', 'team=x'])
    await p.restart()
    const after = (await p.cli(settings)).stdout.trim().split('\t')
    expect(after.slice(0, 5)).toEqual(before.slice(0, 5))
    expect(after[5]).not.toBe(before[5])
    const url = JSON.parse((await p.cli(['services', 'describe', 'hello', '--format=json'])).stdout).uri as string
    const token = (await p.cli(['auth', 'print-identity-token', `--audiences=${url}`])).stdout.trim()
    await expect.poll(() => gatewayStatus(p.gatewayPort, new URL(url).host, token), { timeout: 10_000 }).toBe(200)
  })

  // (Here too: a second `npm start` in another shell while the first still runs.)
  it('a second demo on the same data dir stops before changing anything: the first\'s hello still answers', async () => {
    const url = JSON.parse((await p.cli(['services', 'describe', 'hello', '--format=json'])).stdout).uri as string
    const upstream = (await p.cli(['services', 'describe', 'hello', '--format=value(upstream)'])).stdout.trim()
    const noted = readFileSync(join(p.dataDir, 'control-url'), 'utf8')
    /** Why a second start failed (one that started after all is stopped, not left holding ports). */
    const failure = (o: Parameters<typeof startPostern>[0]) => startPostern(o).then(async (q) => (await q.stop(), 'it started'), (err: Error) => err.message)
    // The data dir is the first's (store/serve-lock.ts): refused before anything is read or written there.
    const running = `Another postern serve (pid ${p.pid}, control plane ${p.controlUrl}, gateway http://127.0.0.1:${p.gatewayPort}) is running on --data-dir ${p.dataDir}; nothing was changed.`
    // On the same ports (npm start twice), on ports of its own, and with only the gateway port taken.
    expect(await failure({ dataDir: p.dataDir, controlPort: p.controlPort, gatewayPort: p.gatewayPort, args: ['--demo'] })).toContain(running)
    expect(await failure({ dataDir: p.dataDir, args: ['--demo'] })).toContain(running)
    expect(await failure({ dataDir: p.dataDir, gatewayPort: p.gatewayPort })).toContain(running)
    expect(readFileSync(join(p.dataDir, 'control-url'), 'utf8')).toBe(noted)
    expect((await p.cli(['services', 'describe', 'hello', '--format=value(upstream)'])).stdout.trim()).toBe(upstream)
    const token = (await p.cli(['auth', 'print-identity-token', `--audiences=${url}`])).stdout.trim()
    expect(await gatewayStatus(p.gatewayPort, new URL(url).host, token)).toBe(200)
  })

  // (Here too: hello pointed by an admin at a loopback port that sends its answer's head a byte at a time.)
  it('a demo start is not held by hello\'s upstream answering slowly: it probes it for 2 s at most', async () => {
    const dribbling = createServer((socket) => {
      socket.on('error', () => undefined)
      socket.write('HTTP/1.1 200 OK\r\n')
      const drip = setInterval(() => socket.write('X'), 300)
      socket.on('close', () => clearInterval(drip))
    })
    await new Promise<void>((resolve) => dribbling.listen(0, '127.0.0.1', resolve))
    try {
      const slow = `http://127.0.0.1:${(dribbling.address() as AddressInfo).port}`
      expect((await p.cli(['services', 'update', 'hello', `--upstream=${slow}`])).code).toBe(0)
      await p.stop()
      const began = Date.now()
      p = await startPostern({ dataDir: p.dataDir, configDir: p.configDir, args: ['--demo'] })
      expect(Date.now() - began).toBeLessThan(15_000)
      // Not a demo upstream: the restart takes hello back for its own.
      expect((await p.cli(['services', 'describe', 'hello', '--format=value(upstream)'])).stdout.trim()).not.toBe(slow)
    } finally {
      dribbling.close()
    }
  })

  it('without a postern on the user\'s PATH only: no PATH line when the shell already finds it', async () => {
    const q = await startPostern({ args: ['--demo'], env: { PATH: `${join(CHECKOUT, 'node_modules/.bin')}:${BARE_PATH}` } })
    try {
      expect(q.output()).toMatch(/try, in another shell:\n {2}curl /)
      expect(q.output()).not.toContain('export PATH=')
    } finally {
      await q.stop()
    }
  })
})
