import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { rename, writeFile } from 'node:fs/promises'
import { connect, Socket } from 'node:net'
import { join } from 'node:path'
import { PosternError } from '../../core/errors.js'
import type { Logger } from '../../core/log.js'
import { LineThrottle, lineSplitter, nginxLineLevel, redactedNginxLine } from './nginx-log.js'

/** Where Debian puts nginx and the modules of libnginx-mod-http-lua (and its NDK). */
export const DEBIAN_NGINX = { binary: '/usr/sbin/nginx', modulesDir: '/usr/lib/nginx/modules' } as const

/** nginx and its Lua module, or a clear word on what to install. */
export function findNginx(where: { binary: string; modulesDir: string } = DEBIAN_NGINX): { binary: string; modulesDir: string } {
  if (!existsSync(where.binary)) {
    throw new PosternError('FAILED_PRECONDITION', `--data-plane nginx needs nginx (${where.binary} is missing). Install it with: apt-get install -y nginx libnginx-mod-http-lua — or use --data-plane node (the default, nothing to install).`)
  }
  for (const module of ['ndk_http_module.so', 'ngx_http_lua_module.so']) {
    if (!existsSync(join(where.modulesDir, module))) {
      throw new PosternError('FAILED_PRECONDITION', `--data-plane nginx needs nginx's Lua module (${join(where.modulesDir, module)} is missing). Install it with: apt-get install -y libnginx-mod-http-lua`)
    }
  }
  return where
}

/**
 * nginx as Postern's supervised child: started in the foreground (`daemon off`) so it is ours to
 * stop, reloaded with SIGHUP (old workers finish what they carry, new ones take new connections:
 * nothing is dropped), stopped gracefully on shutdown. nginx itself watches Postern (see
 * nginx-config.ts `watchParents`) and quits if Postern dies without stopping it, and its workers
 * quit if their master dies, so it is never left holding the gateway port. An exit nobody asked
 * for is `ended`'s to tell (supervised-nginx.ts starts nginx again).
 */
export class NginxProcess {
  private child: ChildProcess | undefined
  private stderr = ''
  private exited = false
  /** Resolves when the nginx master exits: `asked` when stop() asked it to. */
  readonly ended: Promise<{ code: number | null; signal: NodeJS.Signals | null; asked: boolean }>
  private endedWith!: (how: { code: number | null; signal: NodeJS.Signals | null; asked: boolean }) => void
  private reloading: Promise<void> = Promise.resolve()

  private constructor(
    private readonly binary: string,
    private readonly runDir: string,
    private readonly log: Logger,
  ) {
    this.ended = new Promise((resolve) => (this.endedWith = resolve))
  }

  private get confPath() {
    return join(this.runDir, 'nginx.conf')
  }

  private args(conf = this.confPath): string[] {
    return ['-p', this.runDir + '/', '-c', conf, '-e', 'stderr', '-g', 'daemon off;']
  }

  /** Writes the configuration, starts nginx, and resolves once it accepts connections on `listen`. */
  static async start(o: { binary: string; runDir: string; config: string; listen: { host: string; port: number }; log: Logger }): Promise<NginxProcess> {
    const p = new NginxProcess(o.binary, o.runDir, o.log)
    await p.write(p.confPath, o.config)
    await p.test(p.confPath)
    // Something already answering there would pass for nginx below.
    if (await accepts(o.listen)) throw p.startError(o.listen, 'Address already in use')
    const child = spawn(o.binary, p.args(), { stdio: ['ignore', 'ignore', 'pipe'] })
    p.child = child
    const lines = lineSplitter()
    const throttle = new LineThrottle()
    let report: NodeJS.Timeout | undefined
    const reportHeld = () => {
      report = undefined
      const held = throttle.takeHeld()
      if (held > 0) o.log.log('info', `nginx: ${held} more lines about clients' mistakes in the last ${throttle.windowMs / 1000} s, not shown`, { held })
    }
    child.stderr!.on('data', (d: Buffer) => {
      // (What nginx said is quoted in an error only when it fails to start: redacted there too.)
      p.stderr = (p.stderr + d.toString()).slice(-8192)
      for (const line of lines.push(d.toString())) {
        if (!line.trim()) continue
        const level = nginxLineLevel(line)
        if (level !== 'info' || throttle.admit(Date.now())) o.log.log(level, 'nginx', { line: redactedNginxLine(line).slice(0, 1000) })
        else report ??= setTimeout(reportHeld, throttle.windowMs).unref()
      }
    })
    const exit = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    child.once('exit', (code, signal) => {
      p.exited = true
      clearTimeout(report)
      reportHeld()
      // Workers left behind by a master killed outright hold this pipe until they quit (a
      // second or so): their lines are still logged, but the pipe must not keep Postern from
      // exiting once it has stopped.
      if (child.stderr instanceof Socket) child.stderr.unref()
      p.endedWith({ code, signal, asked: p.stopping })
    })
    // Stopped with Postern, however Postern ends (the Lua watch covers SIGKILL).
    const onExit = () => child.kill('SIGTERM')
    process.once('exit', onExit)
    child.once('exit', () => process.off('exit', onExit))
    const deadline = Date.now() + 10_000
    for (;;) {
      if (p.exited) throw p.startError(o.listen)
      if (await accepts(o.listen)) return p
      if (Date.now() > deadline) {
        await p.stop()
        throw new PosternError('FAILED_PRECONDITION', `nginx did not start listening on ${o.listen.host}:${o.listen.port} within 10 s: ${redactedNginxLine(p.stderr.trim()).slice(-500) || 'no word from it'}`)
      }
      await Promise.race([exit, new Promise((r) => setTimeout(r, 50))])
    }
  }

  private stopping = false

  private startError(listen: { host: string; port: number }, said = redactedNginxLine(this.stderr.trim())): PosternError {
    if (/Address already in use/.test(said)) return new PosternError('FAILED_PRECONDITION', `Cannot listen on ${listen.host}:${listen.port} for the gateway (nginx): the port is in use (another postern serve?). Stop whatever holds it, or choose another port with --gateway-port N.`)
    if (/Permission denied/.test(said) && /bind\(\)/.test(said)) return new PosternError('FAILED_PRECONDITION', `Cannot listen on ${listen.host}:${listen.port} for the gateway (nginx): permission denied (ports below 1024 need privileges). Choose another port with --gateway-port N.`)
    return new PosternError('FAILED_PRECONDITION', `nginx could not start: ${said.slice(-800) || 'it exited without a word'}`)
  }

  private async write(path: string, config: string): Promise<void> {
    try {
      await writeFile(path, config, { mode: 0o600 })
    } catch (err) {
      throw new PosternError('FAILED_PRECONDITION', `Cannot write nginx's configuration to ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}. Give --data-dir a directory Postern may write.`)
    }
  }

  /** `nginx -t`: a configuration nginx would refuse is never put in place. */
  private test(path: string): Promise<void> {
    return new Promise((resolve, reject) => {
      execFile(this.binary, ['-t', '-q', ...this.args(path)], (err, _stdout, stderr) => {
        if (err) reject(new PosternError('FAILED_PRECONDITION', `nginx refused the configuration Postern wrote (${path}): ${String(stderr).trim().slice(-800)}`))
        else resolve()
      })
    })
  }

  /** Puts a new configuration in place (if nginx accepts it) and reloads; serialised, so two reloads never interleave. */
  reload(config: string): Promise<void> {
    this.reloading = this.reloading.then(async () => {
      if (this.exited) return
      const next = this.confPath + '.next'
      await this.write(next, config)
      try {
        await this.test(next)
      } catch (err) {
        this.log.log('error', 'nginx configuration refused; the previous one stays in force', { err: (err as Error).message })
        return
      }
      await rename(next, this.confPath)
      this.child?.kill('SIGHUP')
    })
    return this.reloading
  }

  /** Graceful (SIGQUIT: finish what is in flight), then SIGTERM after 5 s, SIGKILL after 10 s. */
  async stop(): Promise<void> {
    this.stopping = true
    const child = this.child
    if (!child || this.exited) return
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    child.kill('SIGQUIT')
    const term = setTimeout(() => child.kill('SIGTERM'), 5_000)
    const kill = setTimeout(() => child.kill('SIGKILL'), 10_000)
    await exited
    clearTimeout(term)
    clearTimeout(kill)
  }

  get pid(): number | undefined {
    return this.child?.pid
  }
}

function accepts(listen: { host: string; port: number }): Promise<boolean> {
  return new Promise((resolve) => {
    const host = listen.host === '0.0.0.0' ? '127.0.0.1' : listen.host === '::' ? '::1' : listen.host.replace(/^\[|\]$/g, '')
    const socket = connect(listen.port, host)
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}
