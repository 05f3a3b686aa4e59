import { spawn, type ChildProcess } from 'node:child_process'
import { BIN } from './cli.js'
import { freePort } from './ports.js'

/** A running `postern services proxy SERVICE` (the built CLI) on a free port, signed in through `configDir`. */
export async function startServicesProxy(service: string, configDir: string): Promise<{ url: string; process: ChildProcess }> {
  const port = await freePort()
  const child = spawn(process.execPath, [BIN, 'services', 'proxy', service, '--port', String(port)], { env: { ...process.env, POSTERN_CONFIG_DIR: configDir }, stdio: ['ignore', 'pipe', 'pipe'] })
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      const m = /at (http:\/\/127\.0\.0\.1:\d+)/.exec(String(d))
      if (m) resolve(m[1]!)
    })
    child.once('exit', (c) => reject(new Error(`postern services proxy exited ${c}`)))
  })
  return { url, process: child }
}
