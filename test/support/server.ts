import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BIN, runCli, type CliResult } from './cli.js'
import { freePort } from './ports.js'

export interface PosternProcess {
  controlUrl: string
  gatewayUrl: string
  gatewayPort: number
  controlPort: number
  dataDir: string
  /** The CLI config dir the server signed in as the owner. */
  configDir: string
  /** The `postern serve` process's pid (a new one after restart). */
  readonly pid: number
  ownerPassword: string | undefined
  output: () => string
  cli(args: string[], o?: { configDir?: string; env?: Record<string, string>; stdin?: string; timeoutMs?: number }): Promise<CliResult>
  /** An API call with the owner's access token (or `token`). */
  api<T = Record<string, unknown>>(method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: T }>
  /** The owner's access token, for the control API. */
  ownerToken(): Promise<string>
  /** The owner's ID token (aud postern-cli), for services through the gateway. */
  ownerIdToken(): Promise<string>
  stop(signal?: NodeJS.Signals): Promise<void>
  /** Sends the process a signal and returns at once; whether it is still running after. */
  signal(signal: NodeJS.Signals): void
  running(): boolean
  /** The exit code once the process has exited (null while it runs, or if a signal ended it). */
  readonly exitCode: number | null
  restart(): Promise<void>
}

/** Who carries the gateway's bytes (`serve --data-plane`): suites that hold for both run once per plane. */
export const DATA_PLANES = ['node', 'nginx'] as const
export type DataPlane = (typeof DATA_PLANES)[number]

export interface StartOptions {
  /** `--data-plane` (default node). */
  dataPlane?: DataPlane
  args?: string[]
  env?: Record<string, string>
  databaseUrl?: string
  dataDir?: string
  configDir?: string
  controlPort?: number
  gatewayPort?: number
  /** Where `postern serve` is started (relative paths in `args` are relative to it). */
  cwd?: string
}

/** Starts a real `postern serve` process on free ports with fresh directories. */
export async function startPostern(o: StartOptions = {}): Promise<PosternProcess> {
  const root = mkdtempSync(join(tmpdir(), 'postern-e2e-'))
  const dataDir = o.dataDir ?? join(root, 'data')
  const configDir = o.configDir ?? join(root, 'config')
  const controlPort = o.controlPort ?? (await freePort())
  const gatewayPort = o.gatewayPort ?? (await freePort())
  let child: ChildProcess
  let out = ''
  let ownerPassword: string | undefined

  const launch = async () => {
    const args = [BIN, 'serve', '--port', String(controlPort), '--gateway-port', String(gatewayPort), '--data-dir', dataDir, ...(o.databaseUrl ? ['--database-url', o.databaseUrl] : []), ...(o.dataPlane && o.dataPlane !== 'node' ? ['--data-plane', o.dataPlane] : []), ...(o.args ?? [])]
    child = spawn(process.execPath, args, { env: { ...process.env, POSTERN_CONFIG_DIR: configDir, POSTERN_CHANGE_POLL_MS: '100', ...o.env }, stdio: ['ignore', 'pipe', 'pipe'], cwd: o.cwd })
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        // Stopped, so that a server that never got ready does not outlive the test holding its ports.
        child.kill('SIGKILL')
        reject(new Error(`postern serve did not start:\n${out}`))
      }, 30_000)
      const onData = (d: Buffer) => {
        out += d
        const pw = /Owner password \(shown once, keep it safe\): (\S+)/.exec(out)
        if (pw) ownerPassword = pw[1]
        if (out.includes('Postern is ready.')) {
          clearTimeout(timer)
          resolve()
        }
      }
      child.stdout!.on('data', onData)
      child.stderr!.on('data', onData)
      child.once('exit', (code) => {
        clearTimeout(timer)
        reject(new Error(`postern serve exited with ${code}:\n${out}`))
      })
    })
    child.removeAllListeners('exit')
  }
  await launch()

  const controlUrl = `http://127.0.0.1:${controlPort}`
  const self: PosternProcess = {
    controlUrl,
    gatewayUrl: `http://localhost:${gatewayPort}`,
    gatewayPort,
    controlPort,
    dataDir,
    configDir,
    get pid() {
      return child.pid!
    },
    get ownerPassword() {
      return ownerPassword
    },
    output: () => out,
    cli: (args, c = {}) => runCli(args, { configDir: c.configDir ?? configDir, env: c.env, stdin: c.stdin, timeoutMs: c.timeoutMs }),
    async ownerToken() {
      const r = await runCli(['auth', 'print-access-token'], { configDir })
      if (r.code !== 0) throw new Error(`print-access-token failed: ${r.stderr}`)
      return r.stdout.trim()
    },
    async ownerIdToken() {
      const r = await runCli(['auth', 'print-identity-token'], { configDir })
      if (r.code !== 0) throw new Error(`print-identity-token failed: ${r.stderr}`)
      return r.stdout.trim()
    },
    async api(method, path, body, token) {
      const res = await fetch(controlUrl + path, {
        method,
        headers: { authorization: `Bearer ${token ?? (await self.ownerToken())}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      })
      const text = await res.text()
      return { status: res.status, body: (text ? JSON.parse(text) : {}) as never }
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve())
        child.kill(signal)
      })
    },
    signal(signal) {
      child.kill(signal)
    },
    running() {
      return child.exitCode === null && child.signalCode === null
    },
    get exitCode() {
      return child.exitCode
    },
    async restart() {
      await self.stop()
      await launch()
    },
  }
  return self
}
