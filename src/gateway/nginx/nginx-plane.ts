import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerOptions, type ServerResponse } from 'node:http'
import { isIP } from 'node:net'
import type { Duplex } from 'node:stream'
import { join } from 'node:path'
import { PosternError } from '../../core/errors.js'
import type { TrustedProxies } from '../../http/client-address.js'
import type { Logger } from '../../core/log.js'
import { serveHttp2Beside, type StreamHandler } from '../../http/http2/ingress.js'
import { answerRefusedRequests } from '../client-errors.js'
import type { ServiceRecord } from '../../store/records.js'
import { DECISION_PATH, RENEW_PATH, UPSTREAM_ERROR_PATH } from './decision-protocol.js'
import { nginxConfig } from './nginx-config.js'
import { findNginx } from './nginx-process.js'
import { SupervisedNginx } from './supervised-nginx.js'
import { shapeServices, type NginxShape } from './nginx-shape.js'
import { nodeTrustedCertificates } from './upstream-trust.js'

export interface NginxPlaneDeps {
  /** Where callers reach the gateway: nginx listens here. */
  listen: { host: string; port: number }
  dataDir: string
  tls: { cert: string; key: string } | undefined
  /** NODE_EXTRA_CA_CERTS, if set: nginx trusts it for https upstreams beside Node's roots, as the Node gateway does. */
  extraCaCerts: string | undefined
  /** What nginx shows on each question it asks Postern (decision-key.ts). */
  decisionKey: string
  /** `--trusted-proxies`: whose X-Forwarded-For nginx passes on to upstreams (as the chain they vouch for). */
  trustedProxies: TrustedProxies
  /** X-Forwarded-Proto for upstreams: the scheme callers use (public-scheme.ts). */
  proto: 'http' | 'https'
  /** The port of the gateway's public URL ('' for its scheme's default), for X-Forwarded-Host (nginx-config.ts). */
  publicPort: string
  /** The gateway URL's host name, lower-case: /healthz and /readyz on another host's are the gateway's own (nginx-config.ts). */
  gatewayHost: string
  /** `--max-connections`: each nginx worker's connections (nginx-config.ts). */
  maxConnections: number
  /** Postern's own gateway (decisions, upstream errors): served on a Unix socket only nginx uses. */
  request: (req: IncomingMessage, res: ServerResponse) => void
  upgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void
  /** Postern's gateway for the HTTP/2 streams nginx hands over (h2c on the same socket): every HTTP/2 request nginx takes. */
  stream: StreamHandler
  serverOptions: ServerOptions
  services: () => Iterable<ServiceRecord>
  log: Logger
  /** nginx exited unasked and could not be started again (why): the gateway port is dark, Postern should end (supervised-nginx.ts). */
  nginxLost: (why: string) => void
}

export interface NginxPlane {
  /** Call after services changed: nginx is reloaded (SIGHUP) only when its configuration must change (nginx-shape.ts). */
  servicesChanged(): void
  /** Call after the TLS certificate or key was renewed: nginx reads them again (a reload, nothing dropped). */
  tlsChanged(): void
  close(): Promise<void>
  nginxPid: number | undefined
}

/**
 * `postern serve --data-plane nginx`: Postern decides, nginx carries the bytes. Postern's gateway
 * listens on a Unix socket in `<data dir>/nginx/` and answers nginx's decision requests there;
 * nginx, started as Postern's child with the configuration Postern writes beside it, listens on
 * the gateway port, and is started again if it exits unasked. A failed start leaves nothing running.
 */
export async function startNginxPlane(d: NginxPlaneDeps): Promise<NginxPlane> {
  const nginx = findNginx()
  const runDir = join(d.dataDir, 'nginx')
  // The CAs Postern's own gateway trusts, so that both planes accept the same upstream
  // certificates: written before anything listens, so a failure here leaves nothing running.
  const upstreamCa = join(runDir, 'upstream-ca.pem')
  try {
    mkdirSync(runDir, { recursive: true, mode: 0o700 })
    writeFileSync(upstreamCa, nodeTrustedCertificates(d.extraCaCerts, (message) => d.log.log('warn', message)))
  } catch (err) {
    throw new PosternError('FAILED_PRECONDITION', `Cannot create ${runDir} for the nginx data plane: ${(err as NodeJS.ErrnoException).code ?? String(err)}. Give --data-dir a directory Postern may write.`)
  }
  const socket = join(runDir, 'gateway.sock')
  if (Buffer.byteLength(socket) > 100) throw new PosternError('FAILED_PRECONDITION', `The nginx data plane's socket path ${socket} is too long for a Unix socket; choose a shorter --data-dir.`)
  rmSync(socket, { force: true })
  // Requests nginx passes through whole (health, readiness, forward-auth, or a service's own path
  // of such a name, with any query or spelling) come from the client nginx names in X-Real-IP;
  // its decisions carry the caller's own headers and name no one.
  const server = createServer(d.serverOptions, (req, res) => {
    if (!DECISION_PATHS.some((path) => req.url?.startsWith(path))) namedClient(req)
    d.request(req, res)
  })
  // Upgrades reach this socket through nginx (its @postern_upgrade), one connection each: the
  // client is the address nginx names, which the gateway puts in X-Forwarded-For and the logs.
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    namedClient(req)
    d.upgrade(req, socket, head)
  })
  // nginx's grpc_pass opens its connections with the h2c preface; its HTTP/1.1 ones do not.
  serveHttp2Beside(server, { tls: false, onStream: d.stream, idleTimeoutMs: 300_000, prefaceTimeoutMs: 10_000, onSessionError: (err) => d.log.log('info', 'http2 session error', { err: err.message }) })
  // Header counts are the gateway's to check (431 with its message), as on the gateway port.
  server.maxHeadersCount = 0
  // What Node's parser refuses of what nginx passes on (an upgrade with the method PRI, say) is
  // answered in the one error shape, as on the gateway port, not with Node's bare 400.
  answerRefusedRequests(server)
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new PosternError('FAILED_PRECONDITION', `Cannot listen on ${socket} for nginx's decisions: ${(err as NodeJS.ErrnoException).code ?? String(err)}.`)))
    server.listen(socket, () => resolve())
  })
  const closeServer = () => new Promise<void>((r) => {
    server.close(() => r())
    server.closeAllConnections()
  })

  const warned = new Set<string>()
  const warnOfAddressedHttps = (services: Iterable<ServiceRecord>) => {
    for (const s of services) {
      const origin = new URL(s.upstream).origin
      if (!addressedHttps(origin) || warned.has(origin)) continue
      warned.add(origin)
      d.log.log('warn', `An https upstream named by its IP address (${origin}): nginx checks certificate names as DNS names only, so its callers get 502 unless the certificate also names the address as a DNS name. Name the upstream by a host name its certificate names.`)
    }
  }
  const configFor = (shape: NginxShape) =>
    nginxConfig({
      listen: d.listen,
      decisions: `unix:${socket}`,
      decisionKey: d.decisionKey,
      runDir,
      shape,
      modulesDir: nginx.modulesDir,
      workerProcesses: 'auto',
      user: process.getuid?.() === 0 ? 'root' : undefined,
      tls: d.tls,
      upstreamCa,
      trustedProxies: d.trustedProxies,
      proto: d.proto,
      publicPort: d.publicPort,
      gatewayHost: d.gatewayHost,
      maxConnections: d.maxConnections,
      watchPid: process.pid,
    })
  warnOfAddressedHttps(d.services())
  let shaped = shapeServices(d.services())
  let current = configFor(shaped.shape)
  let proc: SupervisedNginx
  try {
    proc = await SupervisedNginx.start({ binary: nginx.binary, runDir, config: current, listen: d.listen, log: d.log, gaveUp: d.nginxLost })
  } catch (err) {
    await closeServer()
    throw err
  }

  let pending: NodeJS.Timeout | undefined
  return {
    get nginxPid() {
      return proc.pid
    },
    servicesChanged() {
      // A burst of changes is one reload.
      pending ??= setTimeout(() => {
        pending = undefined
        warnOfAddressedHttps(d.services())
        shaped = shapeServices(d.services(), shaped)
        if (!shaped.reload) return
        // Even when the text comes out the same (as many https names in use as before, others
        // gone): the workers that handed out every block must make way for ones that have not.
        current = configFor(shaped.shape)
        proc.reload(current, shaped.why ?? 'services changed').catch((err: unknown) => d.log.log('error', 'nginx reload failed', { err: String(err) }))
      }, 50)
    },
    tlsChanged() {
      // The same configuration: nginx checks it (the key is the certificate's) and reloads.
      proc.reload(current, 'the TLS certificate or key was renewed').catch((err: unknown) => d.log.log('error', 'nginx reload failed', { err: String(err) }))
    },
    async close() {
      clearTimeout(pending)
      await proc.stop()
      await closeServer()
    },
  }
}

/** Whether an upstream origin is https named by an IP address (nginx 1.22 checks certificate names with X509_check_host: DNS names only). */
function addressedHttps(origin: string): boolean {
  const url = new URL(origin)
  return url.protocol === 'https:' && isIP(url.hostname.replace(/^\[|\]$/g, '')) !== 0
}

/** The paths of nginx's own requests to Postern (decision-protocol.ts). */
const DECISION_PATHS = [DECISION_PATH, RENEW_PATH, UPSTREAM_ERROR_PATH]

/** The client nginx names in X-Real-IP, as the peer of a request nginx passed through (the socket is nginx's alone). */
function namedClient(req: IncomingMessage): void {
  const client = nginxNamedClient(req.headers)
  if (client) Object.defineProperty(req.socket, 'remoteAddress', { value: client, configurable: true })
}

/** The caller nginx names in X-Real-IP on a request or stream it passed to Postern's socket (one HTTP/2 session carries many callers' streams in turn). */
export function nginxNamedClient(headers: IncomingHttpHeaders): string | undefined {
  const client = headers['x-real-ip']
  return typeof client === 'string' && isIP(client) ? client : undefined
}
