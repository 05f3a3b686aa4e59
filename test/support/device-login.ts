import { spawn } from 'node:child_process'
import { BIN } from './cli.js'

export interface RunningLogin {
  /** Resolves with the verification URL and user code once the CLI has printed them. */
  prompt: Promise<{ url: string; code: string; complete: string | undefined }>
  done: Promise<{ code: number; stdout: string; stderr: string }>
  stderr: () => string
  kill: () => void
}

/** Starts `postern auth login ARGS` and reads the device-flow prompt (if any) from its output as a user would. */
export function startLogin(args: string[], o: { configDir: string; env?: Record<string, string> }): RunningLogin {
  const child = spawn(process.execPath, [BIN, 'auth', 'login', ...args], { env: { ...process.env, POSTERN_CONFIG_DIR: o.configDir, ...o.env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  let announce: (v: { url: string; code: string; complete: string | undefined }) => void = () => {}
  const prompt = new Promise<{ url: string; code: string; complete: string | undefined }>((resolve) => (announce = resolve))
  child.stdout.on('data', (d: Buffer) => (stdout += d))
  child.stderr.on('data', (d: Buffer) => {
    stderr += d
    const m = /open this URL in a browser on any device:\s+(\S+)\s+and enter the code:\s+([A-Z]{4}-[A-Z]{4})/.exec(stderr)
    if (m) announce({ url: m[1]!, code: m[2]!, complete: /\(or open (\S+) directly\)/.exec(stderr)?.[1] })
  })
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000)
  const done = new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code: code ?? -1, stdout, stderr })
    }),
  )
  return { prompt, done, stderr: () => stderr, kill: () => child.kill('SIGTERM') }
}
