import { homedir } from 'node:os'
import { join } from 'node:path'
import { TrustedProxies } from '../http/client-address.js'
import { PosternError } from './errors.js'
import { parseDurationSeconds } from './duration.js'
import { testClockFileFrom } from './test-clock.js'

/** `postern serve` configuration: parsed once from flags and environment, validated, frozen. */
export interface ServeConfig {
  readonly host: string
  readonly port: number
  readonly gatewayPort: number
  /** A third listener for Prometheus and probes only, when given. */
  readonly metricsPort: number | undefined
  readonly controlUrl: string
  readonly gatewayUrl: URL
  readonly issuer: string
  readonly dataDir: string
  readonly databaseUrl: string | undefined
  readonly owner: string
  readonly project: string
  readonly demo: boolean
  readonly planes: { readonly control: boolean; readonly gateway: boolean }
  readonly idTokenTtlSeconds: number
  readonly keyRotationMs: number
  readonly tls: { readonly cert: string; readonly key: string } | undefined
  readonly allowInsecureHttp: boolean
  readonly cliConfigDir: string
  readonly masterKeySecret: string | undefined
  readonly changePollMs: number
  /** How long a process that lost its database keeps deciding from memory before it fails closed. */
  readonly maxStalenessMs: number
  readonly accessLog: boolean
  /** Audit-log entries older than this are purged by the maintenance loop. */
  readonly auditRetentionMs: number
  /** Open connections each plane's listener accepts at once. */
  readonly maxConnections: number
  readonly workers: number
  /** Who carries the gateway's bytes: Postern's own Node gateway, or nginx deciding through Postern (gateway/nginx/). */
  readonly dataPlane: 'node' | 'nginx'
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error'
  /** Proxies whose X-Forwarded-For names the client (for sign-in limits); none by default. */
  readonly trustedProxies: TrustedProxies
  /** Tests only: a file holding seconds to move the clock forward by (core/test-clock.ts). */
  readonly testClockFile: string | undefined
}

export interface ServeFlags {
  host?: string
  port?: string
  gatewayPort?: string
  metricsPort?: string
  gatewayUrl?: string
  issuer?: string
  dataDir?: string
  databaseUrl?: string
  owner?: string
  project?: string
  demo?: boolean
  planes?: string
  idTokenTtl?: string
  keyRotation?: string
  tlsCert?: string
  tlsKey?: string
  allowInsecureHttp?: boolean
  maxStaleness?: string
  accessLog?: boolean
  auditRetention?: string
  maxConnections?: string
  workers?: string
  trustedProxies?: string
  dataPlane?: string
}

const usage = (message: string) => new PosternError('INVALID_ARGUMENT', message)

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)
}

function parsePort(text: string | undefined, fallback: number, flag: string): number {
  if (text === undefined) return fallback
  const n = Number(text)
  if (!/^\d{1,5}$/.test(text) || n > 65535) throw usage(`${flag}: '${text}' is not a port number.`)
  return n
}

export function buildServeConfig(flags: ServeFlags, env: Record<string, string | undefined>): ServeConfig {
  const host = flags.host ?? '127.0.0.1'
  const port = parsePort(flags.port, 7070, '--port')
  const gatewayPort = parsePort(flags.gatewayPort, 7080, '--gateway-port')
  const tls = flags.tlsCert && flags.tlsKey ? { cert: flags.tlsCert, key: flags.tlsKey } : undefined
  if (Boolean(flags.tlsCert) !== Boolean(flags.tlsKey)) throw usage('--tls-cert and --tls-key go together.')
  if (!isLoopback(host) && !tls && !flags.allowInsecureHttp) {
    throw usage(`Refusing to serve plain HTTP on ${host}, which is not a loopback address: give --tls-cert and --tls-key, or --allow-insecure-http if a TLS-terminating proxy sits in front.`)
  }
  const scheme = tls ? 'https' : 'http'
  const urlHost = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host
  const controlUrl = `${scheme}://${urlHost}:${port}`
  const gatewayUrl = parseBaseUrl(flags.gatewayUrl ?? `${scheme}://localhost:${gatewayPort}`, '--gateway-url')
  const issuer = flags.issuer ? parseBaseUrl(flags.issuer, '--issuer').href.replace(/\/$/, '') : controlUrl
  const planes = parsePlanes(flags.planes ?? 'control,gateway')
  const idTokenTtlSeconds = parseDurationSeconds(flags.idTokenTtl ?? '3600', '--id-token-ttl')
  if (idTokenTtlSeconds > 86_400) throw usage('--id-token-ttl may be at most 24h.')
  const keyRotationMs = parseDurationSeconds(flags.keyRotation ?? '30d', '--key-rotation') * 1000
  const project = flags.project ?? 'my-project'
  const auditRetentionMs = parseDurationSeconds(flags.auditRetention ?? '30d', '--audit-retention') * 1000
  if (auditRetentionMs < 1000) throw usage('--audit-retention must be at least 1s.')
  return Object.freeze({
    host,
    port,
    gatewayPort,
    metricsPort: flags.metricsPort === undefined ? undefined : parsePort(flags.metricsPort, 0, '--metrics-port'),
    controlUrl,
    gatewayUrl,
    issuer,
    dataDir: flags.dataDir ?? env.POSTERN_DATA_DIR ?? join(env.XDG_DATA_HOME ?? join(homedir(), '.local', 'share'), 'postern'),
    databaseUrl: flags.databaseUrl ?? env.POSTERN_DATABASE_URL,
    owner: (flags.owner ?? 'owner@example.com').toLowerCase(),
    project,
    demo: flags.demo ?? false,
    planes,
    idTokenTtlSeconds,
    keyRotationMs,
    tls,
    allowInsecureHttp: flags.allowInsecureHttp ?? false,
    cliConfigDir: env.POSTERN_CONFIG_DIR ?? join(env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'postern'),
    masterKeySecret: env.POSTERN_MASTER_KEY,
    changePollMs: Number(env.POSTERN_CHANGE_POLL_MS ?? 250),
    accessLog: flags.accessLog ?? false,
    auditRetentionMs,
    maxConnections: parseMaxConnections(flags.maxConnections ?? '10000'),
    workers: parseWorkers(flags.workers ?? '1'),
    dataPlane: parseDataPlane(flags.dataPlane ?? 'node', flags.workers ?? '1'),
    maxStalenessMs: parseDurationSeconds(flags.maxStaleness ?? '60s', '--max-staleness') * 1000,
    logLevel: (env.POSTERN_LOG_LEVEL as ServeConfig['logLevel'] | undefined) ?? 'info',
    trustedProxies: TrustedProxies.parse(flags.trustedProxies),
    testClockFile: testClockFileFrom(env, isLoopback(host)),
  })
}

function parseMaxConnections(text: string): number {
  const n = Number(text)
  if (!/^\d{1,7}$/.test(text) || n < 1) throw usage(`--max-connections: expected a positive number, got '${text}'.`)
  return n
}

function parseDataPlane(text: string, workers: string): ServeConfig['dataPlane'] {
  if (text !== 'node' && text !== 'nginx') throw usage(`--data-plane: expected node or nginx, got '${text}'.`)
  // nginx runs a worker per core itself; Postern's workers would each start an nginx on one port.
  if (text === 'nginx' && workers !== '1') throw usage('--data-plane nginx and --workers go separately: nginx already runs a worker on every core.')
  return text
}

function parseWorkers(text: string): number {
  const n = Number(text)
  if (!/^\d{1,2}$/.test(text) || n < 1 || n > 64) throw usage(`--workers: expected 1 to 64, got '${text}'.`)
  return n
}

function parseBaseUrl(text: string, flag: string): URL {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw usage(`${flag}: '${text}' is not a URL.`)
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.username || url.password || url.search || url.hash || url.pathname !== '/') {
    throw usage(`${flag}: expected an http(s) origin such as https://run.example.com, got '${text}'.`)
  }
  return url
}

function parsePlanes(text: string): ServeConfig['planes'] {
  const parts = text.split(',').map((p) => p.trim())
  if (parts.some((p) => p !== 'control' && p !== 'gateway') || parts.length === 0) {
    throw usage(`--planes: expected control, gateway or control,gateway, got '${text}'.`)
  }
  return { control: parts.includes('control'), gateway: parts.includes('gateway') }
}
