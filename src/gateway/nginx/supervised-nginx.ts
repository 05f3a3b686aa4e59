import type { Logger } from '../../core/log.js'
import { NginxProcess } from './nginx-process.js'

/** How long Postern keeps trying to start nginx again after it exited unasked: its old workers free the port within a few seconds (nginx-config.ts watchParents). */
export const RESTART_WITHIN_MS = 15_000
/** Between two tries: the port is not yet free, or nginx failed to start. */
const RETRY_EVERY_MS = 250
/** Unasked exits within a minute past which Postern stops starting nginx again: an nginx that keeps dying is its operator's to look at. */
const MAX_EXITS_PER_MINUTE = 5

export interface SupervisedNginxOptions {
  binary: string
  runDir: string
  config: string
  listen: { host: string; port: number }
  log: Logger
  /**
   * nginx is gone and could not be started again (why, said for a person): the gateway port is
   * dark. The caller ends Postern with a failure (main.ts): see startAgain for why.
   */
  gaveUp: (why: string) => void
}

/**
 * nginx kept running for as long as Postern serves: an nginx master that exits when Postern did
 * not ask it to (killed outright, by the OOM killer or a stray kill -9) is started again, once
 * its orphaned workers have let go of the gateway port, with the configuration as it stands then.
 */
export class SupervisedNginx {
  private stopped = false
  /** Set while nginx is gone and being started again: a reload then only changes what it starts with. */
  private restarting: Promise<void> | undefined
  private down = false
  private readonly exits: number[] = []

  private constructor(
    private proc: NginxProcess,
    private config: string,
    private readonly o: SupervisedNginxOptions,
  ) {
    this.watch(proc)
  }

  static async start(o: SupervisedNginxOptions): Promise<SupervisedNginx> {
    return new SupervisedNginx(await NginxProcess.start(o), o.config, o)
  }

  private watch(proc: NginxProcess): void {
    void proc.ended.then(({ code, signal, asked }) => {
      if (asked || this.stopped) return
      this.down = true
      this.restarting = this.startAgain(code, signal)
    })
  }

  /**
   * Tries for RESTART_WITHIN_MS, then gives up. Giving up ends Postern with a failure (exit 1)
   * rather than leaving it running with /readyz not ready: systemd, Docker and Kubernetes restart
   * a process that exits, and count and report it, while a process that merely answers not ready
   * is restarted by none of them (Kubernetes takes it out of its Service, systemd never asks) and
   * its gateway port would stay dark, its control plane answering as if all were well.
   */
  private async startAgain(code: number | null, signal: NodeJS.Signals | null): Promise<void> {
    const began = Date.now()
    this.exits.push(began)
    while (this.exits[0]! < began - 60_000) this.exits.shift()
    if (this.exits.length > MAX_EXITS_PER_MINUTE) {
      this.o.log.log('error', `nginx exited without being asked to, ${this.exits.length} times within a minute: not starting it again`, { code, signal })
      this.o.gaveUp(`nginx exited without being asked to, ${this.exits.length} times within a minute (last: ${signal ?? `code ${code}`}); the gateway port is not served.`)
      return
    }
    this.o.log.log('error', 'nginx exited without being asked to; starting it again once the gateway port is free', { code, signal, pid: this.proc.pid })
    let last = ''
    while (!this.stopped) {
      try {
        const config = this.config
        const proc = await NginxProcess.start({ ...this.o, config })
        this.proc = proc
        if (this.stopped) return await proc.stop()
        this.down = false
        this.watch(proc)
        this.o.log.log('warn', 'nginx started again', { pid: proc.pid, afterMs: Date.now() - began })
        // Services changed while it was starting.
        if (this.config !== config) this.proc.reload(this.config).catch((err: unknown) => this.o.log.log('error', 'nginx reload failed', { err: String(err) }))
        return
      } catch (err) {
        last = (err as Error).message
      }
      if (Date.now() - began > RESTART_WITHIN_MS) {
        this.o.log.log('error', `nginx could not be started again within ${RESTART_WITHIN_MS / 1000} s`, { err: last })
        this.o.gaveUp(`nginx exited without being asked to (${signal ?? `code ${code}`}) and could not be started again within ${RESTART_WITHIN_MS / 1000} s: ${last}`)
        return
      }
      await new Promise((r) => setTimeout(r, RETRY_EVERY_MS))
    }
  }

  /**
   * A new configuration: reloaded now, or, while nginx is being started again, the one it starts
   * with. Each reload is logged with `why`: it replaces every worker, and the retiring ones close
   * the idle kept-alive connections callers hold, which callers see as read errors.
   */
  reload(config: string, why: string): Promise<void> {
    this.config = config
    if (this.down) return Promise.resolve()
    this.o.log.log('info', 'reloading nginx: new workers take over, the old ones finish their requests and close their idle connections', { why, pid: this.proc.pid })
    return this.proc.reload(config)
  }

  /** Stops nginx, and any start again under way: never waits on an nginx that is gone. */
  async stop(): Promise<void> {
    this.stopped = true
    await this.restarting
    await this.proc.stop()
  }

  get pid(): number | undefined {
    return this.proc.pid
  }
}
