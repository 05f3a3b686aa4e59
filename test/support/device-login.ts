import { spawn } from 'node:child_process'
import { BIN } from './cli.js'
import { WebAgent } from './web-sign-in.js'

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

/** Approves a device-flow code as its user would: signed in to the control plane in a (browserless) web session, on /device. */
export async function approveDevice(controlUrl: string, o: { email: string; password: string; code: string }): Promise<void> {
  const agent = new WebAgent(controlUrl)
  const signedIn = await agent.signIn(o.email, o.password)
  if (signedIn.status !== 303) throw new Error(`signing in as ${o.email} answered ${signedIn.status}`)
  const form = await (await agent.fetch(`/device?user_code=${o.code}`)).text()
  const csrf = /name="csrf_token" value="([^"]+)"/.exec(form)?.[1]
  // The page approves only the code whose details (when, from where) it showed.
  const shown = /name="shown_code" value="([^"]+)"/.exec(form)?.[1]
  if (!csrf || !shown) throw new Error(`no approval form for code ${o.code}`)
  const approved = await agent.fetch('/device', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ user_code: o.code, shown_code: shown, csrf_token: csrf, action: 'approve' }) })
  if (approved.status !== 200) throw new Error(`approving code ${o.code} answered ${approved.status}`)
}
