import { fileURLToPath } from 'node:url'
import type { Command } from 'commander'
import type { ServeFlags } from '../../core/config.js'
import { PosternError } from '../../core/errors.js'
import { terminalHungUp } from '../../core/hangup.js'
import { pathSetupHint } from '../command-hint.js'
import type { Cli } from '../context.js'
import { CliError } from '../errors.js'

export function registerServe(program: Command, cli: Cli): void {
  program
    .command('serve')
    .description('Run Postern: the control plane (API, sign-in, console) and the gateway.')
    .option('--host <address>', 'address to bind', '127.0.0.1')
    .option('--port <port>', 'control plane port', '7070')
    .option('--gateway-port <port>', 'gateway port', '7080')
    .option('--gateway-url <url>', 'public base URL of the gateway (service URLs are SERVICE.PROJECT.<host>)')
    .option('--issuer <url>', 'OIDC issuer URL (default: the control URL)')
    .option('--data-dir <dir>', 'where the embedded database and master key live (default ~/.local/share/postern)')
    .option('--database-url <url>', 'use PostgreSQL instead of the embedded SQLite')
    .option('--owner <email>', 'the owner account created on first start', 'owner@example.com')
    .option('--project <id>', 'the project created on first start', 'my-project')
    .option('--demo', 'also start a small upstream and register it as the private service "hello"')
    .option('--planes <planes>', 'which planes this process serves: control, gateway or control,gateway', 'control,gateway')
    .option('--id-token-ttl <seconds>', 'lifetime of ID tokens', '3600')
    .option('--key-rotation <duration>', 'signing key rotation period, at least 1h', '30d')
    .option('--tls-cert <file>', 'TLS certificate (PEM)')
    .option('--tls-key <file>', 'TLS private key (PEM)')
    .option('--max-staleness <duration>', 'how long to keep deciding from memory when the database is unreachable, before failing closed', '60s')
    .option('--metrics-port <port>', 'also serve /metrics, /healthz and /readyz on this port, to anyone who reaches it (the control port asks for a credential for /metrics; the gateway port never serves it)')
    .option('--metrics-host <address>', 'address the --metrics-port listener binds (default 127.0.0.1, whatever --host is)')
    .option('--max-connections <n>', 'open connections each plane accepts at once; beyond, new ones are closed', '10000')
    .option('--audit-retention <duration>', 'how long audit-log entries are kept before they are purged', '30d')
    .option('--access-log', 'log every gateway request as a JSON line with its request id (failures are always logged)')
    .option('--workers <n>', 'worker processes sharing the ports (use both cores: 2)', '1')
    .option('--data-plane <plane>', 'who carries the gateway\'s bytes: node (Postern itself) or nginx (Debian\'s nginx with its Lua module, started by Postern; Postern decides)', 'node')
    .option('--allow-insecure-http', 'serve plain HTTP on a non-loopback address (behind a TLS proxy)')
    .option('--trusted-proxies <cidrs>', 'proxies (CIDR[,CIDR]) whose X-Forwarded-For names the client, for sign-in limits; by default the peer address counts')
    .option('--reset-owner-password', 'locked out? set a new password for the owner, print it once, end the owner\'s sessions, and exit (only where the data is: the embedded store or a PostgreSQL on this machine)')
    // What serve reads from the environment (core/config.ts, Env): an operator setting up several
    // processes looks here first for the master key they must share.
    .addHelpText('after', `
Environment:
  POSTERN_MASTER_KEY      the master key (a passphrase, or the content of a master.key); every
                          process sharing a --database-url needs the same one. Without it the
                          key is DATA_DIR/master.key, created on the first start
  POSTERN_DATABASE_URL    as --database-url
  POSTERN_DATA_DIR        as --data-dir (else $XDG_DATA_HOME/postern, ~/.local/share/postern)
  POSTERN_CONFIG_DIR      the CLI's config dir the first start signs in as the owner
                          (else $XDG_CONFIG_HOME/postern, ~/.config/postern)
  POSTERN_LOG_LEVEL       debug, info (default), warn or error
  POSTERN_CHANGE_POLL_MS  how often the change feed is polled, in ms (default 250)
  POSTERN_TLS_CHECK_MS    how often --tls-cert and --tls-key are looked at for a renewal, in ms
                          (default 10000)
  NODE_EXTRA_CA_CERTS     a CA file trusted for https upstreams, beside the system's`)
    .action(async (flags: ServeFlags & { resetOwnerPassword?: boolean }, cmd: Command) => {
      // --project is also a global flag; here it names the first project.
      const project = cmd.optsWithGlobals().project as string | undefined
      // Loaded here, not at the top: zod, which it checks flags with, was ~90 ms of every command's start.
      const { buildServeConfig } = await import('../../core/config.js')
      let config
      try {
        config = buildServeConfig({ ...flags, project: project ?? flags.project }, cli.io.env)
      } catch (err) {
        if (err instanceof PosternError) throw new CliError(err.message, 2)
        throw err
      }
      if (flags.resetOwnerPassword) {
        const { resetOwner } = await import('../../main.js')
        const explicitOwner = cmd.getOptionValueSource('owner') === 'default' ? undefined : config.owner
        await reported(resetOwner(config, explicitOwner, { stdout: cli.io.stdout, stderr: cli.io.stderr }))
        return
      }
      if (config.allowInsecureHttp) cli.warn(`serving plain HTTP on ${config.host}; tokens and passwords cross the network unencrypted unless a TLS proxy terminates in front.`, cmd)
      const worker = cli.io.env.POSTERN_WORKER === undefined ? undefined : Number(cli.io.env.POSTERN_WORKER)
      const { serve, claimServedDataDir } = await import('../../main.js')
      // Before anything is read or written in the data dir; workers run under their primary's claim,
      // which the kernel drops when the primary ends however it ends.
      const release = worker === undefined ? await reported(Promise.resolve().then(() => claimServedDataDir(config))) : () => undefined
      if (config.workers > 1 && worker === undefined) {
        const { superviseWorkers } = await import('../../cluster.js')
        await reported(superviseWorkers(config.workers, { stdout: cli.io.stdout, stderr: cli.io.stderr })).finally(release)
        return
      }
      const pathHint = pathSetupHint(cli.io.env, fileURLToPath(new URL('../../../', import.meta.url)))
      // SIGHUP is Postern's from before it starts until it exits, one listener throughout: one that
      // came as Postern said it was ready (a script waiting for that line) is acted on once it is
      // up, where Node's default ended it on the spot; and a gap between two listeners lost one.
      let hungUp = false
      let hangup: () => void = () => (hungUp = true)
      process.on('SIGHUP', () => hangup())
      const running = await reported(serve(config, { stdout: cli.io.stdout, stderr: cli.io.stderr, pathHint }, worker)).catch((err: unknown) => {
        // A worker's IPC channel to the primary would keep it alive after a failed start.
        if (worker !== undefined) process.disconnect?.()
        throw err
      })
      // Set when Postern stops because it can no longer serve (running.failed): it exits 1, for its supervisor to see.
      let failure: string | undefined
      await new Promise<void>((resolve) => {
        let stopping = false
        // Node hands a signal's listener the signal's name: the stop's log line says what asked.
        const stop = (signal?: NodeJS.Signals) => {
          if (stopping) return
          stopping = true
          // A second Ctrl-C, during a slow stop, ends Postern at once (Node's default).
          process.off('SIGINT', stop)
          process.off('SIGTERM', stop)
          // A worker's IPC channel to the primary would keep it alive after shutdown.
          void running.close(signal).finally(() => {
            if (worker !== undefined) process.disconnect?.()
            resolve()
          })
        }
        hangup = () => {
          if (terminalHungUp()) stop('SIGHUP')
          else if (!stopping) running.reload()
        }
        process.on('SIGINT', stop)
        process.on('SIGTERM', stop)
        if (hungUp) hangup()
        void running.failed.then((why) => {
          if (stopping) return
          failure = why
          stop()
        })
      })
      release()
      if (failure !== undefined) throw new CliError(`ERROR: ${failure} Postern stopped; start it again (a supervisor such as systemd does so itself).`)
    })
}

/** The server's own refusals (a busy port, an empty store) are the user's to fix: said plainly, exit 1. */
async function reported<T>(work: Promise<T>): Promise<T> {
  try {
    return await work
  } catch (err) {
    if (err instanceof PosternError) throw new CliError(`ERROR: ${err.message}`)
    throw err
  }
}
