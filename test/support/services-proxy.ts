import { spawn, type ChildProcess } from 'node:child_process'
import { BIN } from './cli.js'
import { freePort } from './ports.js'

/**
 * A running `postern services proxy SERVICE` (the built CLI) on a free port, signed in through
 * `configDir`, with `args` after the service and `env` beside the test's own; resolves once it
 * says where it listens. `output()` is all it has written since.
 */
export async function startServicesProxy(service: string, configDir: string, o: { args?: string[]; env?: Record<string, string> } = {}): Promise<{ url: string; port: number; process: ChildProcess; output(): string }> {
  const port = await freePort()
  const child = spawn(process.execPath, [BIN, 'services', 'proxy', service, '--port', String(port), ...(o.args ?? [])], { env: { ...process.env, POSTERN_CONFIG_DIR: configDir, ...o.env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let said = ''
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      said += d
      const m = /at (http:\/\/127\.0\.0\.1:\d+)/.exec(said)
      if (m) resolve(m[1]!)
    })
    child.stderr!.on('data', (d: Buffer) => (said += d))
    child.once('exit', (c) => reject(new Error(`postern services proxy exited ${c}: ${said}`)))
  })
  return { url, port, process: child, output: () => said }
}
