import type { Command } from 'commander'
import { isLoopback } from '../../core/loopback.js'
import type { Cli } from '../context.js'
import { CliError, usageError } from '../errors.js'
import { readKeyFile } from '../key-file.js'
import { impersonationSource, keyFileSource, signedInSource, type IdentitySource } from '../metadata-server/identity-sources.js'

interface Flags {
  host: string
  port: string
  keyFile?: string
}

/**
 * `postern metadata-server`: the GCE metadata endpoints on a local port, so code using Google's
 * client libraries gets Postern tokens with no key file in the code's environment (Node's
 * google-auth-library cannot be pointed at another token endpoint at all). With
 * --impersonate-service-account a developer runs their code as a service account they hold
 * roles/iam.serviceAccountTokenCreator on, with no key downloaded.
 */
export function registerMetadataServer(program: Command, cli: Cli): void {
  program
    .command('metadata-server')
    .description('Serve GCE-style metadata endpoints (GCE_METADATA_HOST) that hand out Postern tokens of the signed-in account, a key file or an impersonated service account to Google client libraries.')
    .option('--host <address>', 'local address to listen on', '127.0.0.1')
    .option('--port <port>', 'local port', '8099')
    .option('--key-file <file>', 'act as the service account of this key file (from postern iam service-accounts keys create)')
    .option('--impersonate-service-account <email>', 'act as this service account (needs roles/iam.serviceAccountTokenCreator on it); the global flag, and the property auth/impersonate_service_account too')
    .action(async (o: Flags, cmd: Command) => {
      if (!/^\d{1,5}$/.test(o.port) || Number(o.port) > 65535) throw usageError(`--port: '${o.port}' is not a port number.`)
      if (o.keyFile && cli.impersonated(cmd)) throw usageError('--key-file and --impersonate-service-account (or the property auth/impersonate_service_account) exclude each other.')
      const source = await identitySource(cli, cmd, o)
      // Fail now, not at the first request, when the identity does not work.
      await source.accessToken()
      if (!isLoopback(o.host)) cli.warn(`listening on ${o.host}: anyone who can reach it gets tokens of ${source.email}.`, cmd)
      const { startMetadataServer } = await import('../metadata-server/metadata-server.js')
      let server
      try {
        server = await startMetadataServer({ host: o.host, port: Number(o.port), source, log: (line) => cli.io.stderr(line + '\n') })
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new CliError(`Port ${o.port} on ${o.host} is already in use; choose another with --port.`)
        throw err
      }
      cli.status(`Serving metadata for ${source.email} (project ${source.projectId}) at http://${server.address}. Point Google's client libraries at it with:`, cmd)
      // HOST: google-auth-library for Node, google-auth for Python 2.x; IP: their detection ping; ROOT: google-auth for Python 1.x.
      cli.print(`export GCE_METADATA_HOST=${server.address} GCE_METADATA_IP=${server.address} GCE_METADATA_ROOT=${server.address}\n`)
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGINT', stop)
          process.off('SIGTERM', stop)
          void server.close().finally(resolve)
        }
        process.on('SIGINT', stop)
        process.on('SIGTERM', stop)
      })
    })
}

async function identitySource(cli: Cli, cmd: Command, o: Flags): Promise<IdentitySource> {
  if (o.keyFile) return keyFileSource(readKeyFile(o.keyFile))
  const sa = cli.impersonated(cmd)
  if (sa) return impersonationSource(cli.signedInApi(), sa.toLowerCase())
  const account = cli.session.activeAccount()
  return signedInSource(cli.session, account, cli.project(cmd))
}
