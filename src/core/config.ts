import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import * as z from 'zod'
import { TrustedProxies } from '../http/client-address.js'
import { isLoopback } from './loopback.js'
import { PosternError } from './errors.js'
import { parseDurationSeconds } from './duration.js'
import { testClockFileFrom } from './test-clock.js'

/** `postern serve` configuration: parsed once from flags and environment, validated, frozen. */
export interface ServeConfig {
  readonly host: string
  readonly port: number
  readonly gatewayPort: number
  /** A third listener for Prometheus and probes only, when given: anonymous, so it binds `metricsHost`, loopback unless told. */
  readonly metricsPort: number | undefined
  readonly metricsHost: string
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
  /** How often --tls-cert and --tls-key are looked at for a renewal. */
  readonly tlsCheckMs: number
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
  /** NODE_EXTRA_CA_CERTS: the CA file Node adds to its roots for https upstreams (nginx is given the same). */
  readonly extraCaCerts: string | undefined
  /** Tests only: a file holding seconds to move the clock forward by (core/test-clock.ts). */
  readonly testClockFile: string | undefined
}

export interface ServeFlags {
  host?: string
  port?: string
  gatewayPort?: string
  metricsPort?: string
  metricsHost?: string
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

/**
 * One value of flags or environment, checked by its own parser; a refusal becomes a zod issue,
 * so that every wrong value is reported in one go rather than one per start.
 */
const checked = <T>(parse: (text: string | undefined) => T) =>
  z.string().optional().transform((text, ctx): T => {
    try {
      return parse(text)
    } catch (err) {
      if (!(err instanceof PosternError)) throw err
      ctx.addIssue({ code: 'custom', message: err.message })
      return z.NEVER
    }
  })

const Flags = z.object({
  host: z.string().default('127.0.0.1').transform(unbracketed),
  port: checked((t) => fixedPort(parsePort(t, 7070, '--port'), '--port')),
  gatewayPort: checked((t) => fixedPort(parsePort(t, 7080, '--gateway-port'), '--gateway-port')),
  metricsPort: checked((t) => (t === undefined ? undefined : parsePort(t, 0, '--metrics-port'))),
  metricsHost: z.string().optional().transform((h) => (h === undefined ? undefined : unbracketed(h))),
  gatewayUrl: checked((t) => (t === undefined ? undefined : parseBaseUrl(t, '--gateway-url'))),
  issuer: checked((t) => (t === undefined ? undefined : parseBaseUrl(t, '--issuer').href.replace(/\/$/, ''))),
  dataDir: z.string().optional(),
  databaseUrl: z.string().optional(),
  owner: z.string().default('owner@example.com').transform((o) => o.toLowerCase()),
  project: z.string().default('my-project'),
  demo: z.boolean().default(false),
  planes: checked((t) => parsePlanes(t ?? 'control,gateway')),
  idTokenTtl: checked((t) => {
    const seconds = parseDurationSeconds(t ?? '3600', '--id-token-ttl')
    if (seconds > 86_400) throw usage('--id-token-ttl may be at most 24h.')
    return seconds
  }),
  keyRotation: checked((t) => parseDurationSeconds(t ?? '30d', '--key-rotation') * 1000),
  tlsCert: z.string().optional(),
  tlsKey: z.string().optional(),
  allowInsecureHttp: z.boolean().default(false),
  maxStaleness: checked((t) => parseDurationSeconds(t ?? '60s', '--max-staleness') * 1000),
  accessLog: z.boolean().default(false),
  auditRetention: checked((t) => {
    const ms = parseDurationSeconds(t ?? '30d', '--audit-retention') * 1000
    if (ms < 1000) throw usage('--audit-retention must be at least 1s.')
    return ms
  }),
  maxConnections: checked((t) => parseMaxConnections(t ?? '10000')),
  workers: checked((t) => parseWorkers(t ?? '1')),
  dataPlane: checked((t) => parseDataPlane(t ?? 'node')),
  trustedProxies: checked((t) => TrustedProxies.parse(t)),
})

const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const

/** The environment Postern reads; everything else in it is left alone. */
const Env = z.object({
  POSTERN_DATA_DIR: z.string().optional(),
  POSTERN_DATABASE_URL: z.string().optional(),
  POSTERN_CONFIG_DIR: z.string().optional(),
  XDG_DATA_HOME: z.string().optional(),
  XDG_CONFIG_HOME: z.string().optional(),
  POSTERN_MASTER_KEY: z.string().optional(),
  NODE_EXTRA_CA_CERTS: z.string().optional(),
  // The change feed is polled this often; below 10 ms the poll loop alone keeps a core busy.
  POSTERN_CHANGE_POLL_MS: checked((t) => {
    if (t === undefined) return 250
    if (!/^\d{1,5}$/.test(t) || Number(t) < 10 || Number(t) > 60_000) throw usage(`POSTERN_CHANGE_POLL_MS: expected milliseconds from 10 to 60000, got '${t.slice(0, 40)}'.`)
    return Number(t)
  }),
  // --tls-cert and --tls-key are looked at this often for a renewal (tls-files.ts).
  POSTERN_TLS_CHECK_MS: checked((t) => {
    if (t === undefined) return 10_000
    if (!/^\d{1,7}$/.test(t) || Number(t) < 100 || Number(t) > 3_600_000) throw usage(`POSTERN_TLS_CHECK_MS: expected milliseconds from 100 to 3600000, got '${t.slice(0, 40)}'.`)
    return Number(t)
  }),
  POSTERN_LOG_LEVEL: checked((t): ServeConfig['logLevel'] => {
    if (t === undefined) return 'info'
    if (!(LOG_LEVELS as readonly string[]).includes(t)) throw usage(`POSTERN_LOG_LEVEL: expected one of ${LOG_LEVELS.join(', ')}, got '${t.slice(0, 40)}'.`)
    return t as ServeConfig['logLevel']
  }),
})

/**
 * The shortest --key-rotation. Postern's own tests rotate every few seconds to watch a rotation
 * happen (NODE_ENV=test, as the test clock asks); nothing else has a use for it.
 */
const MIN_KEY_ROTATION_MS = 3_600_000

/**
 * Validates flags and environment in one pass and returns the frozen configuration. Every
 * problem is reported at once, one a line, so a start never fails on a second mistake after the
 * first is fixed.
 */
export function buildServeConfig(flags: ServeFlags, env: Record<string, string | undefined>): ServeConfig {
  const f = Flags.safeParse(flags)
  const e = Env.safeParse(env)
  const problems = [...(f.error?.issues ?? []), ...(e.error?.issues ?? [])].map((issue) => issue.message)
  const host = f.data?.host ?? unbracketed(flags.host ?? '127.0.0.1')
  // Absolute, as typed relative to where `postern serve` was started: nginx reads the same files
  // from its own directory (the data plane's), and the renewal watch reads them for as long as Postern runs.
  const tls = flags.tlsCert && flags.tlsKey ? { cert: resolve(flags.tlsCert), key: resolve(flags.tlsKey) } : undefined
  if (Boolean(flags.tlsCert) !== Boolean(flags.tlsKey)) problems.push('--tls-cert and --tls-key go together.')
  else if (!isLoopback(host) && !tls && !flags.allowInsecureHttp) {
    problems.push(`Refusing to serve plain HTTP on ${host}, which is not a loopback address: give --tls-cert and --tls-key, or --allow-insecure-http if a TLS-terminating proxy sits in front.`)
  }
  // The metrics listener answers anyone who reaches it, so it does not follow --host: a process
  // serving the public on 0.0.0.0 keeps its service inventory on loopback unless told otherwise.
  const metricsHost = f.data?.metricsHost ?? unbracketed(flags.metricsHost ?? '127.0.0.1')
  if (flags.metricsHost !== undefined && flags.metricsPort === undefined) problems.push('--metrics-host goes with --metrics-port: it says where that listener binds.')
  else if (flags.metricsPort !== undefined && !isLoopback(metricsHost) && !tls && !flags.allowInsecureHttp) {
    problems.push(`Refusing to serve plain HTTP on ${metricsHost} (--metrics-host), which is not a loopback address: give --tls-cert and --tls-key, or --allow-insecure-http if the network between it and Prometheus is yours.`)
  }
  // The metrics listener may share a port number with the others on an address of its own.
  const wildcard = (h: string) => h === '0.0.0.0' || h === '::'
  const metricsBesideOthers = metricsHost === host || wildcard(metricsHost) || wildcard(host)
  if (f.data) problems.push(...samePorts({ ...f.data, metricsPort: metricsBesideOthers ? f.data.metricsPort : undefined }))
  // nginx runs a worker per core itself; Postern's workers would each start an nginx on one port.
  if (flags.dataPlane === 'nginx' && (flags.workers ?? '1') !== '1') problems.push('--data-plane nginx and --workers go separately: nginx already runs a worker on every core.')
  if (f.data && f.data.keyRotation < MIN_KEY_ROTATION_MS && env.NODE_ENV !== 'test') {
    problems.push(`--key-rotation must be at least 1h, got '${flags.keyRotation}': every key stays in the JWKS until a day after it retires (ID tokens live up to 24h), so a shorter period piles up keys every verifier downloads. The default, 30d, suits most.`)
  }
  let testClockFile: string | undefined
  try {
    testClockFile = testClockFileFrom(env, isLoopback(host))
  } catch (err) {
    if (!(err instanceof PosternError)) throw err
    problems.push(err.message)
  }
  if (!f.success || !e.success || problems.length) throw usage(problems.join('\n'))
  const o = f.data
  const scheme = tls ? 'https' : 'http'
  const urlHost = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host
  const controlUrl = `${scheme}://${urlHost}:${o.port}`
  const databaseUrl = o.databaseUrl ?? e.data.POSTERN_DATABASE_URL
  if (databaseUrl !== undefined) checkDatabaseUrl(databaseUrl)
  return Object.freeze({
    host,
    port: o.port,
    gatewayPort: o.gatewayPort,
    metricsPort: o.metricsPort,
    metricsHost,
    controlUrl,
    gatewayUrl: o.gatewayUrl ?? parseBaseUrl(`${scheme}://localhost:${o.gatewayPort}`, '--gateway-url'),
    issuer: o.issuer ?? controlUrl,
    dataDir: resolve(o.dataDir ?? e.data.POSTERN_DATA_DIR ?? join(e.data.XDG_DATA_HOME ?? join(homedir(), '.local', 'share'), 'postern')),
    databaseUrl,
    owner: o.owner,
    project: o.project,
    demo: o.demo,
    planes: o.planes,
    idTokenTtlSeconds: o.idTokenTtl,
    keyRotationMs: o.keyRotation,
    tls,
    allowInsecureHttp: o.allowInsecureHttp,
    cliConfigDir: e.data.POSTERN_CONFIG_DIR ?? join(e.data.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'postern'),
    masterKeySecret: e.data.POSTERN_MASTER_KEY,
    changePollMs: e.data.POSTERN_CHANGE_POLL_MS,
    tlsCheckMs: e.data.POSTERN_TLS_CHECK_MS,
    accessLog: o.accessLog,
    auditRetentionMs: o.auditRetention,
    maxConnections: o.maxConnections,
    workers: o.workers,
    dataPlane: o.dataPlane,
    maxStalenessMs: o.maxStaleness,
    logLevel: e.data.POSTERN_LOG_LEVEL,
    trustedProxies: o.trustedProxies,
    extraCaCerts: e.data.NODE_EXTRA_CA_CERTS || undefined,
    testClockFile,
  })
}

function parsePort(text: string | undefined, fallback: number, flag: string): number {
  if (text === undefined) return fallback
  const n = Number(text)
  if (!/^\d{1,5}$/.test(text) || n > 65535) throw usage(`${flag}: '${text}' is not a port number.`)
  return n
}

/**
 * Port 0 (any free port) for the control plane or the gateway: Postern's URLs name those ports —
 * the issuer in every token, each service's URL — and are fixed before it listens, so they said
 * `:0` (`services at http://SERVICE.PROJECT.localhost:0`) while it listened elsewhere.
 */
function fixedPort(port: number, flag: string): number {
  if (port === 0) throw usage(`${flag}: 0 (any free port) cannot be used: Postern's URLs name its ports (the issuer in every token, each service's URL), so choose one, from 1 to 65535.`)
  return port
}

/** An IPv6 address as URLs bracket it (`[::1]`), as Node listens on it (`::1`). */
function unbracketed(host: string): string {
  return /^\[[0-9A-Fa-f:.]+\]$/.test(host) ? host.slice(1, -1) : host
}

/** One port given to two listeners: said as such, where the second to listen said the port was in use ("another postern serve?"). */
function samePorts(ports: { port: number; gatewayPort: number; metricsPort: number | undefined }): string[] {
  const flags: [string, number | undefined][] = [['--port', ports.port], ['--gateway-port', ports.gatewayPort], ['--metrics-port', ports.metricsPort]]
  return flags.flatMap(([flag, port], i) =>
    flags.slice(i + 1).filter(([, other]) => port !== undefined && port !== 0 && other === port).map(([other]) => `${flag} and ${other} are both ${port}: each listener needs a port of its own.`),
  )
}

function parseMaxConnections(text: string): number {
  const n = Number(text)
  if (!/^\d{1,7}$/.test(text) || n < 1) throw usage(`--max-connections: expected a positive number, got '${text}'.`)
  return n
}

function parseDataPlane(text: string): ServeConfig['dataPlane'] {
  if (text !== 'node' && text !== 'nginx') throw usage(`--data-plane: expected node or nginx, got '${text.slice(0, 40)}'.`)
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

/**
 * --database-url names a PostgreSQL (the embedded store needs none): another scheme (mysql://, a
 * typo) was taken for one and connected wherever its host and port led. Only the scheme is
 * repeated in the error: the URL may hold a password.
 */
function checkDatabaseUrl(url: string): void {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase()
  if (scheme === 'postgres' || scheme === 'postgresql' || scheme === 'socket') return
  throw usage(`--database-url (or POSTERN_DATABASE_URL) takes a PostgreSQL URL, postgres://USER@HOST:PORT/DATABASE${scheme ? `, not a ${scheme}: URL` : ''}. Without it, Postern keeps its data in SQLite in the data dir.`)
}
