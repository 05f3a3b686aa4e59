import type { Command } from 'commander'
import { isLoopback } from '../../core/loopback.js'
import type { Cli } from '../context.js'
import { parseAllowedOrigins } from '../dev-proxy/local-origin.js'
import { CliError, usageError } from '../errors.js'
import { serviceRef } from '../service-ref.js'
import { servicePath } from './services.js'

interface ProxyFlags {
  port: string
  host: string
  token?: string
  authorizationHeader: string
  acceptHosts?: string
  allowOrigins?: string
}

/**
 * The service URL: from the service itself when the caller may read it, else (an invoker need
 * not hold run.services.get) from the gateway URL, after asking the gateway whether it exists.
 */
async function serviceUri(cli: Cli, project: string, name: string): Promise<string> {
  try {
    return (await cli.api().call<{ uri: string }>('GET', servicePath(project, name))).uri
  } catch (err) {
    if (!(err instanceof CliError) || err.status !== 'PERMISSION_DENIED') throw err
  }
  const { gatewayUrl } = await cli.api().call<{ gatewayUrl: string }>('GET', '/v1/settings')
  const base = new URL(gatewayUrl)
  const uri = `${base.protocol}//${name}.${project}.${base.host}`
  const { request } = await import('../dev-proxy/probe.js')
  if ((await request(uri)) === 404) throw new CliError(`Service [${name}] does not exist in project [${project}].`)
  return uri
}

/** `postern services proxy SERVICE`: test a private service from a laptop, with a browser or plain curl (DESIGN §6). */
export function registerProxy(services: Command, cli: Cli): void {
  services
    .command('proxy <service>')
    .description('Serve the service on a local port, attaching an ID token of the active account to every request.')
    .option('--port <port>', 'local port', '8080')
    .option('--host <address>', 'local address to listen on', '127.0.0.1')
    .option('--token <token>', 'send this token instead of the active account’s')
    .option('--accept-hosts <regex>', 'also answer requests whose Host name matches this regular expression, e.g. \'^dev\\.example\\.com$\' (by default only localhost, 127.0.0.1 and [::1] on the proxy’s port)')
    .option('--allow-origins <origins>', 'also serve what pages at these origins ask from a browser, e.g. http://localhost:3000 for a front end’s dev server (comma-separated; they act with your identity)')
    .option('--authorization-header <name>', 'x-serverless-authorization (default; the app’s own Authorization passes untouched) or authorization', 'x-serverless-authorization')
    .action(async (name: string, o: ProxyFlags, cmd: Command) => {
      if (!/^\d{1,5}$/.test(o.port) || Number(o.port) > 65535) throw usageError(`--port: '${o.port}' is not a port number.`)
      const header = o.authorizationHeader.toLowerCase()
      if (header !== 'x-serverless-authorization' && header !== 'authorization') throw usageError('--authorization-header must be x-serverless-authorization or authorization.')
      let acceptHosts: RegExp | undefined
      if (o.acceptHosts !== undefined) {
        try {
          acceptHosts = new RegExp(o.acceptHosts, 'i')
        } catch (err) {
          throw usageError(`--accept-hosts: '${o.acceptHosts}' is not a regular expression (${(err as Error).message}).`)
        }
      }
      let allowOrigins: Set<string> | undefined
      if (o.allowOrigins !== undefined) {
        try {
          allowOrigins = parseAllowedOrigins(o.allowOrigins)
        } catch (err) {
          throw usageError(`--allow-origins: ${(err as Error).message}`)
        }
      }
      const ref = serviceRef(() => cli.project(cmd), name)
      const service = { uri: await serviceUri(cli, ref.project, ref.service) }
      const serviceUrl = new URL(service.uri)
      const { renewingToken, fixedToken } = await import('../dev-proxy/token-source.js')
      const { startDevProxy } = await import('../dev-proxy/dev-proxy.js')
      // The account the proxy started as, for its whole run: switching the active account (config
      // set account, activate-service-account) must not change whose identity it carries unseen.
      const account = o.token ? undefined : cli.session.activeAccount()
      // Impersonating, the proxy carries the service account's ID tokens, which the account asks for.
      const impersonated = o.token ? undefined : cli.impersonated(cmd)
      const idToken = impersonated
        ? async () => (await cli.signedInApi(account).call<{ token: string }>('POST', `/v1/projects/-/serviceAccounts/${encodeURIComponent(impersonated)}:generateIdToken`, { audience: service.uri })).token
        : () => cli.session.idToken({ audience: service.uri }, account)
      const tokens = o.token
        ? fixedToken(o.token)
        : await renewingToken(idToken, {
            onError: (err, retryInMs) => cli.warn(`could not renew the token: ${err.message}\nThe proxy keeps sending the token it has until that expires (then the service answers 401), and tries again in ${retryInMs / 1000} s, then less often, up to once a minute; it says so when a renewal works again.`, cmd),
            onRecover: () => cli.io.stderr('The token is renewed again: requests carry a fresh one.\n'),
          })
      if (!isLoopback(o.host)) {
        cli.warn(`listening on ${o.host}: anyone who can reach it acts with your identity on ${service.uri}${acceptHosts ? '' : ' (requests must still name localhost, 127.0.0.1 or [::1] as Host; add names with --accept-hosts)'}.`, cmd)
      }
      if (allowOrigins) cli.warn(`pages at ${[...allowOrigins].join(', ')} may call ${service.uri} through the proxy from a browser, with your identity.`, cmd)
      let proxy
      try {
        proxy = await startDevProxy({ serviceUrl, host: o.host, port: Number(o.port), header, tokens, acceptHosts, allowOrigins, log: (line) => cli.io.stderr(line + '\n') })
      } catch (err) {
        tokens.stop()
        if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new CliError(`Port ${o.port} on ${o.host} is already in use; choose another with --port.`)
        throw err
      }
      cli.print(`Proxying to ${service.uri} at ${proxy.url}\n`)
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGINT', stop)
          process.off('SIGTERM', stop)
          void proxy.close().finally(resolve)
        }
        process.on('SIGINT', stop)
        process.on('SIGTERM', stop)
      })
    })
}
