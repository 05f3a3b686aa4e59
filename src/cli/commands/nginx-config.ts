import { resolve } from 'node:path'
import type { Command } from 'commander'
import { PosternError } from '../../core/errors.js'
import type { Cli } from '../context.js'
import { CliError } from '../errors.js'

/**
 * `postern nginx-config`: prints what `postern serve --data-plane nginx` writes, for people who
 * run nginx themselves in front of a Postern gateway (`--data-plane node`, the default). It reads
 * the services from the store, as `serve` would; print it again and reload nginx when services
 * are added, removed or re-pointed.
 */
export function registerNginxConfig(program: Command, cli: Cli): void {
  program
    .command('nginx-config')
    .description('Print the nginx data plane\'s configuration (nginx with its Lua module carries the bytes, Postern decides), for an nginx you run yourself.')
    .option('--data-dir <dir>', 'the data directory of the Postern whose services to serve')
    .option('--database-url <url>', 'or its PostgreSQL')
    .option('--listen <host:port>', 'where nginx listens for callers', '127.0.0.1:8080')
    .option('--postern <address>', 'where nginx asks Postern: a Postern gateway\'s host:port, or unix:/path', '127.0.0.1:7080')
    .option('--modules-dir <dir>', 'where nginx\'s dynamic modules are (Debian: libnginx-mod-http-lua)', '/usr/lib/nginx/modules')
    .option('--upstream-ca <file>', 'the CAs (PEM) an https upstream\'s certificate must chain to (nginx checks it)', '/etc/ssl/certs/ca-certificates.crt')
    .option('--trusted-proxies <cidrs>', 'proxies (CIDR[,CIDR]) in front of nginx whose X-Forwarded-For names the client; by default upstreams learn the peer address')
    .option('--max-connections <n>', 'connections each nginx worker holds at once, its callers\' and its upstream connections together (worker_connections)', '10000')
    .action(async (flags: { dataDir?: string; databaseUrl?: string; listen: string; postern: string; modulesDir: string; upstreamCa: string; trustedProxies?: string; maxConnections: string }) => {
      const listen = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(flags.listen)
      if (!listen || Number(listen[2]) > 65535) throw new CliError(`--listen: expected HOST:PORT, got '${flags.listen}'.`, 2)
      if (!/^(unix:\/\S+|(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5})$/.test(flags.postern)) throw new CliError(`--postern: expected HOST:PORT or unix:/path, got '${flags.postern}'.`, 2)
      const { buildServeConfig } = await import('../../core/config.js') // zod: not every command's to load
      const config = buildServeConfig({ dataDir: flags.dataDir, databaseUrl: flags.databaseUrl, trustedProxies: flags.trustedProxies, maxConnections: flags.maxConnections }, cli.io.env)
      const { nginxConfigFromStore } = await import('../../main.js')
      // Files named relative to here, printed absolute: nginx would read them from its own prefix.
      try {
        cli.io.stdout(await nginxConfigFromStore(config, { listen: { host: listen[1]!, port: Number(listen[2]) }, decisions: flags.postern, modulesDir: resolve(flags.modulesDir), upstreamCa: resolve(flags.upstreamCa) }))
      } catch (err) {
        if (err instanceof PosternError) throw new CliError(`ERROR: ${err.message}`)
        throw err
      }
    })
}
