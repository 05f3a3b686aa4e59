import { createServer as createHttpServer, type Server, type ServerOptions } from 'node:http'
import { createServer as createHttpsServer, Server as HttpsServer } from 'node:https'
import { rmSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { bootstrap, resetOwnerPassword, storeIsOnThisMachine, type BootstrapResult } from './control/bootstrap.js'
import { commandsToSignIn, signInLocalCli, type LocalCliSignIn } from './control/local-cli-sign-in.js'
import { defaultConsoleDir, loadConsoleAssets } from './control/console/assets.js'
import { consoleRoutes } from './control/console/routes.js'
import type { ControlDeps } from './control/deps.js'
import { sweepEndedGrants } from './control/access-grant-sweep.js'
import { AccessRequestWaiters } from './control/access-request-waiters.js'
import { accessRequestRoutes } from './control/routes/access-requests.js'
import { accessTestRoutes } from './control/routes/access-tests.js'
import { auditLogRoutes } from './control/routes/audit-logs.js'
import { groupRoutes } from './control/routes/groups.js'
import { iamPolicyRoutes } from './control/routes/iam-policy.js'
import { metricsRoutes } from './control/routes/metrics.js'
import { oidcRoutes } from './control/routes/oidc.js'
import { organizationRoutes } from './control/routes/organizations.js'
import { projectRoutes } from './control/routes/projects.js'
import { roleRoutes } from './control/routes/roles.js'
import { serviceAccountRoutes } from './control/routes/service-accounts.js'
import { serviceAccountTokenRoutes } from './control/routes/service-account-tokens.js'
import { serviceRoutes } from './control/routes/services.js'
import { troubleshootRoutes } from './control/routes/troubleshoot.js'
import { userRoutes } from './control/routes/users.js'
import { workforcePoolRoutes } from './control/routes/workforce-pools.js'
import { federatedSignInRoutes } from './control/pages/federated-signin.js'
import { tokenExchangeGrant } from './control/oauth/token-exchange-grant.js'
import { GRANT } from './identity/endpoints.js'
import { ORGANIZATION } from './iam/resources.js'
import { boundedFetchJson } from './identity/federation/fetch-json.js'
import { ProviderKeySource } from './identity/federation/provider-keys.js'
import { anonymous, createControlHandler } from './control/server.js'
import { signInGrants, signInRoutes } from './control/oauth/routes.js'
import { SessionAuth } from './control/session-auth.js'
import type { ServeConfig } from './core/config.js'
import { isLoopback } from './core/loopback.js'
import { controlUrlForReset, movedServerHint, recordControlUrl, recordedControlUrl } from './control/reset-owner-server.js'
import { PosternError } from './core/errors.js'
import { systemClock } from './core/clock.js'
import { startTestClock } from './core/test-clock.js'
import { createLogger, type Logger } from './core/log.js'
import { ChangeFollower } from './directory/change-follower.js'
import { Directory } from './directory/directory.js'
import { TokenIssuer } from './identity/issuer.js'
import { Keyring } from './identity/keyring.js'
import { existingMasterKeyFile, loadOrCreateMasterKeyFile, masterKeyOpening, masterKeysOf, type MasterKey } from './identity/master-key.js'
import { openStore, openStoreUnlessRestoring } from './store/open-store.js'
import { claimDataDir, dataDirHeldMessage } from './store/serve-lock.js'
import { LATEST_SCHEMA } from './store/migrations.js'
import type { Change } from './store/records.js'
import type { Store } from './store/store.js'
import { AssertionMinter } from './gateway/assertions.js'
import { GatewayAuthenticator } from './gateway/authenticate.js'
import { SignIns } from './gateway/sign-ins.js'
import { InvokeAuthorizer } from './gateway/authorize.js'
import { answerRefusedRequests, plainHttpRefuser, refusingHttp09 } from './gateway/client-errors.js'
import { DenialLog } from './gateway/denial-log.js'
import { Upstreams } from './gateway/forward.js'
import { createGateway } from './gateway/gateway.js'
import { createH2Gateway, type H2GatewayDeps } from './gateway/http2/h2-gateway.js'
import { MAX_HEADER_BYTES } from './gateway/request-shape.js'
import { servingH2cAsHttp1 } from './http/h2c-upgrade.js'
import { inTurn } from './http/in-turn.js'
import { drainable } from './http/drain.js'
import { serveHttp2Beside } from './http/http2/ingress.js'
import { answerPlainHttpBeside } from './http/plain-on-tls-port.js'
import { expiryNotice } from './http/tls-expiry.js'
import { loadTlsPair, type LoadedTls, type TlsCheck, type TlsPair, watchTlsFiles } from './http/tls-files.js'
import { H2Sessions } from './http/http2/sessions.js'
import { createBrowserFlow } from './gateway/browser/browser-flow.js'
import { BrowserSessions, sessionCookieKey } from './gateway/browser/browser-sessions.js'
import { browserCookies, secureContext } from './gateway/browser/cookies.js'
import { SERVICE_SIGN_IN_PATH, serviceSignInRoutes } from './control/pages/service-signin.js'
import { RouteTable } from './gateway/routes.js'
import { registerDemoService, runningDemoUpstream, startDemoUpstream } from './demo/demo.js'
import { forwardAuth } from './gateway/forward-auth.js'
import { internalEndpoints } from './gateway/internal-endpoints.js'
import { decisionKey, showsDecisionKey } from './gateway/nginx/decision-key.js'
import { decisionEndpoint, upstreamErrorEndpoint } from './gateway/nginx/decision.js'
import { renewalEndpoint } from './gateway/nginx/renewal.js'
import { UpstreamPeers } from './gateway/nginx/upstream-peers.js'
import { nginxConfig } from './gateway/nginx/nginx-config.js'
import { nginxNamedClient, startNginxPlane } from './gateway/nginx/nginx-plane.js'
import { publicScheme } from './gateway/public-scheme.js'
import { shapeServices } from './gateway/nginx/nginx-shape.js'
import { boundedPing, observabilityListener, serveObservability } from './observability/endpoints.js'
import { periodicTaskLog } from './observability/periodic-task-log.js'
import { RefusedWrites } from './observability/refused-writes.js'
import { Freshness } from './observability/health.js'
import { Metrics } from './observability/metrics.js'

type Plane = 'control' | 'gateway' | 'metrics'

/**
 * How long a stop lets requests in flight finish before their connections are cut: as long as
 * the nginx plane gives its own (nginx-process.ts: SIGQUIT, then SIGTERM after 5 s), and well
 * inside the 30 s Kubernetes and 90 s systemd wait before killing.
 */
const DRAIN_MS = 5_000

/** A port that cannot be bound, said with the flag that picks another. */
function listenError(err: NodeJS.ErrnoException, plane: Plane, host: string, port: number): Error {
  const flag = { control: '--port', gateway: '--gateway-port', metrics: '--metrics-port' }[plane]
  const what = { control: 'the control plane', gateway: 'the gateway', metrics: 'metrics' }[plane]
  if (err.code === 'EADDRINUSE') return new PosternError('FAILED_PRECONDITION', `Cannot listen on ${host}:${port} for ${what}: the port is in use (another postern serve?). Stop whatever holds it, or choose another port with ${flag} N.`)
  if (err.code === 'EACCES') return new PosternError('FAILED_PRECONDITION', `Cannot listen on ${host}:${port} for ${what}: permission denied (ports below 1024 need privileges). Choose another port with ${flag} N.`)
  if (err.code === 'ENOTFOUND') return new PosternError('FAILED_PRECONDITION', `Cannot listen on ${host}:${port}: the name ${host} does not resolve (see ${plane === 'metrics' ? '--metrics-host' : '--host'}; an address such as 127.0.0.1 or ::1 needs no name).`)
  if (err.code === 'EADDRNOTAVAIL') return new PosternError('FAILED_PRECONDITION', `Cannot listen on ${host}:${port}: this machine has no address ${host} (see ${plane === 'metrics' ? '--metrics-host' : '--host'}).`)
  return err
}

const TLS_CHECK_SAID: Record<TlsCheck, string> = {
  reloaded: 'the renewed pair is served to new connections',
  unchanged: 'unchanged since they were last read',
  unusable: 'they make no pair that can be served; the previous pair is still served',
}

export interface Running {
  controlUrl?: string
  gatewayUrl?: string
  /** Drains and stops every listener (requests in flight get DRAIN_MS), then closes the store; `signal` is what asked, for the log. */
  close(signal?: NodeJS.Signals): Promise<void>
  /** SIGHUP, as `systemctl reload` sends it: reads the TLS certificate and key again now, the only settings Postern reads from files. */
  reload(): void
  /** Resolves, with why, if this process can no longer serve what it was started for (its nginx gone for good): whoever runs it closes it and exits with a failure. */
  failed: Promise<string>
}

/**
 * The composition root (DESIGN §8): config → store → caches → planes → listen. Nothing else
 * constructs long-lived objects.
 */
export async function serve(config: ServeConfig, io: { stdout: (s: string) => void; stderr: (s: string) => void; pathHint?: string }, worker?: number): Promise<Running> {
  // Under --workers, worker 0 speaks for all (addresses, the demo) — except that whichever
  // worker bootstrapped the store prints the owner's password; the primary announces readiness
  // once every worker has reported it.
  const leader = worker === undefined || worker === 0
  const out = { stdout: leader ? io.stdout : () => {}, stderr: io.stderr }
  const log: Logger = createLogger(out.stderr, config.logLevel)
  const testClock = config.testClockFile ? startTestClock(config.testClockFile, (problem) => log.log('error', 'test clock', { problem })) : undefined
  if (testClock) out.stderr(`WARNING: running on a test clock moved by ${config.testClockFile}; never do this outside Postern's own tests.\n`)
  const clock = testClock?.clock ?? systemClock
  const keyFile = config.masterKeySecret ? undefined : loadOrCreateMasterKeyFile(config.dataDir)
  const masterKeyCreated = keyFile?.created
  // (Read before the store is opened: a variable too short to be a key stops the start there.)
  const secretKeys = config.masterKeySecret ? masterKeysOf(config.masterKeySecret) : undefined
  // A database a restore is still filling is neither migrated nor bootstrapped (restore-under-way.ts):
  // this process loads nothing from it yet and fails closed, as one the database was restored under.
  const refusedWrites = new RefusedWrites(log, clock)
  const { store, restoring } = await openStoreUnlessRestoring({ dataDir: config.dataDir, databaseUrl: config.databaseUrl, clock, onError: (err) => log.log('warn', 'database connection error', { err: err.message }), onWrite: refusedWrites.saw })
  // POSTERN_MASTER_KEY read as the store's keys were sealed (a passphrase, or a master.key's
  // content); while a restore is under way there are none to tell by, and it is read as a passphrase.
  const master = keyFile?.key ?? (await masterKeyFor(store, secretKeys!, restoring === undefined, clock))
  // Before anything listens or changes: a second demo on this store would take hello from the first.
  const otherDemo = config.demo && leader && restoring === undefined ? await runningDemoUpstream(store, config.project) : undefined
  if (otherDemo !== undefined) {
    testClock?.stop()
    await store.close()
    const where = config.databaseUrl ? 'the database of --database-url' : `--data-dir ${config.dataDir}`
    throw new PosternError('FAILED_PRECONDITION', `Another postern serve --demo is running on ${where}: its demo upstream ${otherDemo} serves "hello". Stop that one first, or start this one without --demo, or with another --data-dir.`)
  }

  const directory = new Directory(store)
  const accessRequestWaiters = new AccessRequestWaiters()
  const metrics = new Metrics()
  const freshness = new Freshness(clock, log, config.maxStalenessMs, Math.max(5_000, config.changePollMs * 10))
  const keyring = new Keyring(store, master, { rotationMs: config.keyRotationMs, maxTokenLifetimeMs: 86_400_000 }, clock)
  /** Called after each batch of changes is applied to the directory (the gateway drops ended sessions, re-decides open tunnels). */
  const afterChanges: ((changes: readonly Change[]) => void)[] = []
  /** Called after the whole view was reloaded (the database changed under this process): what was cached of it goes. */
  const afterReload: (() => void)[] = []
  let reloads = 0
  let toldForeign = ''
  const follower = new ChangeFollower(store, {
    pollMs: config.changePollMs,
    clock,
    onError: (err) => freshness.failed(err),
    onCaughtUp: (at) => freshness.caughtUp(at),
    onChanges: async (changes) => {
      await directory.apply(changes)
      if (changes.some((c) => c.kind === 'signingKey')) await keyring.reload()
      for (const notify of afterChanges) notify(changes)
      accessRequestWaiters.notify(changes)
    },
    onRewritten: (reason) => {
      log.log('error', 'the database changed under this process; refusing to decide from what it knew until it has reloaded everything from the database', { reason })
      freshness.distrust(`the database changed under this process (${reason}); reloading once it can`)
    },
    // Still failing closed after the reload, until the database has been quiet a while (REWRITE_SETTLE_MS).
    onSettling: (why) => {
      log.log('warn', 'not deciding from the reloaded view yet', { why })
      freshness.distrust(`the database changed under this process; ${why}`)
    },
    onMigrated: (from) => log.log('warn', 'migrated the database, restored from an older Postern\'s backup, to this Postern\'s schema', { from, to: LATEST_SCHEMA }),
    reload: async () => {
      // A backup of an installation with another master key: its signing keys cannot sign here.
      // A start refuses such a database (masterKeyMismatch); a running process keeps failing
      // closed, says why once, and looks again at each run (one query) rather than reloading a
      // view it could not mint a token from.
      const foreign = await keyring.foreignKeys()
      if (foreign.length > 0) {
        const why = restoredWithAnotherMasterKey(config, foreign.length)
        if (why !== toldForeign) log.log('error', 'not reloading from the database: its signing keys were sealed with another master key', { why })
        toldForeign = why
        // /readyz answers anyone who reaches the control plane: the reason, not the key file's path (the log has it).
        freshness.distrust(`${sealedElsewhere(foreign.length, 'database')} than this process's: the database holds a backup of another installation`)
        return false
      }
      toldForeign = ''
      // A reloaded view may be of another database whose feed stands at the same position: the epoch counts reloads too.
      reloads++
      await directory.loadAll()
      await keyring.reload()
      for (const forget of afterReload) forget()
      // Every service may differ: the planes rebuild what they derived from them, and re-decide open tunnels.
      for (const notify of afterChanges) notify([{ seq: 0, kind: 'service', key: '' }])
      log.log('warn', 'reloaded policies, principals, services and signing keys from the database')
    },
  })
  if (restoring !== undefined) {
    log.log('error', 'the database is being restored: not migrating it, creating nothing in it, and refusing to decide until the restore is over', { reason: restoring })
    freshness.distrust(`the database is being restored (${restoring}); waiting until it is whole and has stayed unchanged for a while`)
  }
  await follower.startFrom(restoring)
  if (restoring === undefined) {
    await directory.loadAll()
    const foreign = await keyring.foreignKeys()
    if (foreign.length > 0) {
      await store.close()
      // A master.key made by this very start leaves with it: the next start finds the data dir as it was.
      if (masterKeyCreated) rmSync(masterKeyCreated, { force: true })
      throw new PosternError('FAILED_PRECONDITION', masterKeyMismatch(config, foreign.length, masterKeyCreated))
    }
    await keyring.rotateIfDue()
  }
  await follower.start()
  metrics.gauge('process_pid', 'The process id (tells workers apart).', () => process.pid)
  metrics.gauge('postern_change_feed_age_seconds', 'Seconds since this process last caught up with the change feed.', () => freshness.ageMs() / 1000)
  metrics.gauge('postern_database_writes_refused', 'Whether the embedded database refuses writes now (1: a full disk, or a read-only file system); the log says when it began and ended.', () => (refusedWrites.now() === undefined ? 0 : 1))
  const observability = { metrics, freshness, ping: boundedPing(store), writesRefused: () => refusedWrites.now() }
  const tokens = new TokenIssuer(keyring, config.issuer, config.idTokenTtlSeconds, clock)
  // Whether browsers reach the control plane in a secure context (TLS here or in front, or a
  // loopback address): then cookies are Secure and the session cookie __Host- (sessions.ts).
  const secureCookies = Boolean(config.tls) || isLoopback(config.host) || new URL(config.issuer).protocol === 'https:'
  const sessions = new SessionAuth({ store, directory, clock, log, secureCookies })
  // Workforce federation: external providers' discovery documents and keys, bounded and cached.
  const providerKeys = new ProviderKeySource(boundedFetchJson({ timeoutMs: 5_000, maxBytes: 512 * 1024 }), clock, (issuer, detail) => log.log('warn', 'identity provider fetch failed', { issuer, detail }))

  // The audit log's refusals — the gateway's denied invocations, the API's refused calls, failed
  // sign-ins — counted per principal, resource and minute by one writer in this process.
  const refusals = new DenialLog(store, log, clock, { held: () => !freshness.trusted() })

  const deps: ControlDeps = {
    store,
    directory,
    keyring,
    tokens,
    sync: () => follower.catchUp(),
    clock,
    log,
    settings: {
      issuer: config.issuer,
      controlUrl: config.controlUrl,
      gatewayUrl: config.gatewayUrl,
      idTokenTtlSeconds: config.idTokenTtlSeconds,
      secureCookies,
      trustedProxies: config.trustedProxies,
    },
    authenticate: sessions.authenticate,
    refusals,
  }

  /** Each listener, to be drained on close (http/drain.ts). */
  const servers: { plane: Plane; drain: ReturnType<typeof drainable> }[] = []
  /** The nginx data plane's stop (SIGQUIT: nginx's own graceful shutdown), run beside the drain. */
  let stopNginx: (() => Promise<void>) | undefined
  const notes: string[] = []
  const closers: (() => Promise<void>)[] = [() => refusals.close()]
  // What the servers' close waits for without ending itself: an upgraded socket (a WebSocket
  // tunnel) is no connection closeAllConnections ends, so it is closed first.
  const beforeServersClose: (() => void)[] = []
  const plainHttp = plainHttpRefuser()
  // The TLS certificate and key, read once before anything listens, whichever plane serves them
  // (nginx reads the same files); who serves them takes a renewed pair (watchTlsFiles, below).
  let servedTls: LoadedTls | undefined
  if (config.tls) {
    const loaded = loadTlsPair(config.tls)
    if ('problem' in loaded) throw new PosternError('FAILED_PRECONDITION', `Cannot serve TLS: ${loaded.problem}.`)
    servedTls = loaded
    metrics.gauge('postern_tls_certificate_expiry_timestamp_seconds', 'When the TLS certificate served to new connections expires (seconds since the epoch).', () => Date.parse(servedTls!.validTo) / 1000)
  }
  // A certificate near its end is said at start, at each renewal that is no better, and daily.
  const sayExpiry = () => {
    const notice = servedTls && expiryNotice(servedTls.validTo, clock())
    if (notice) log.log(notice.level, notice.message, { cert: config.tls?.cert })
  }
  if (servedTls) {
    sayExpiry()
    const expiryDaily = setInterval(sayExpiry, 86_400_000)
    expiryDaily.unref()
    closers.push(async () => clearInterval(expiryDaily))
  }
  const tlsRenewed: ((pair: TlsPair) => void)[] = []
  /** Where a plane listens, as a URL to print: https under TLS, an IPv6 address in brackets. */
  const listenUrl = (host: string, port: number) => `${config.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`
  const listen = async (plane: Plane, handler: Parameters<typeof createHttpServer>[1], port: number, options: ServerOptions, setup?: (s: Server) => void) => {
    const host = plane === 'metrics' ? config.metricsHost : config.host
    // The gateway refuses HTTP/0.9 with the rest of a request's shape (request-shape.ts).
    if (plane !== 'gateway' && handler) handler = refusingHttp09(handler)
    // Under TLS both HTTP/2 and HTTP/1.1 are offered by ALPN; the gateway serves h2 beside h1 (http2/ingress.ts).
    const server = servedTls
      ? createHttpsServer({ ...options, ...servedTls.pair, ALPNProtocols: plane === 'gateway' ? ['h2', 'http/1.1'] : ['http/1.1'] }, handler)
      : createHttpServer(options, handler)
    // A cap on open connections per plane: beyond it Node closes new ones at once, so a flood
    // of idle or slow connections cannot exhaust memory or file descriptors.
    server.maxConnections = config.maxConnections
    answerRefusedRequests(server)
    // Plain HTTP to a TLS port gets an answer saying so, not a connection closed without a word.
    if (server instanceof HttpsServer) {
      answerPlainHttpBeside(server, plainHttp, options.headersTimeout ?? 10_000)
      tlsRenewed.push((pair) => server.setSecureContext(pair))
    }
    setup?.(server)
    const drain = drainable(server)
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(listenError(err as NodeJS.ErrnoException, plane, host, port)))
      server.listen(port, host, () => resolve())
    })
    servers.push({ plane, drain })
    return (server.address() as AddressInfo).port
  }

  // Each periodic task that keeps failing (a database without Postern's tables, or out of
  // reach, say) is warned of once, and its recovery said once: not a line every run.
  // A run the database changed under (it began before that was noticed) fails for that reason,
  // which Freshness has said once already: such a failure is not the task's.
  const explained = () => !freshness.trusted()
  const rotationRuns = periodicTaskLog('key rotation', { log, clock, level: 'error', explained })
  const purgeRuns = periodicTaskLog('purge of expired sessions, codes and counters', { log, clock, explained })
  const auditPurgeRuns = periodicTaskLog('audit-log purge', { log, clock, explained })
  // Nothing is written (a key, a purge) while the view is not of the database there is now: a
  // restore may be filling it (Freshness.trusted). Each run checks the feed first, so a database
  // emptied since the last poll is noticed before anything is written into it, not after. A
  // database out of reach is no reason to wait: the run fails, and says so once.
  let closing = false
  /** Set once the start is complete: a start that failed part way closes without a word of stopping. */
  let serving = false
  const whenTrusted = (task: () => void) => () => {
    if (!freshness.trusted()) return
    void follower.verify().catch((err: Error) => freshness.failed(err)).then(() => {
      if (!closing && freshness.trusted()) task()
    })
  }
  const maintenance = setInterval(whenTrusted(() => {
    rotationRuns(keyring.rotateIfDue())
    purgeRuns(store.purgeExpired(clock()))
    auditPurgeRuns(store.purgeAudit(clock() - config.auditRetentionMs))
  }), Math.min(60_000, Math.max(1_000, Math.floor(Math.min(config.keyRotationMs / 4, config.auditRetentionMs / 2)))))
  maintenance.unref()
  // Ended access grants already grant nothing (their condition is false); the sweep removes
  // their bindings and records the expiry. Oftener than the rest of the maintenance, so the
  // policy and the audit log say so within seconds; it is one indexed query when nothing ended.
  const sweepRuns = periodicTaskLog('access grant sweep', { log, clock, explained })
  const grantSweep = setInterval(whenTrusted(() => sweepRuns(sweepEndedGrants(store, clock(), log))), 5_000)
  grantSweep.unref()
  let tlsWatch: ReturnType<typeof watchTlsFiles> | undefined
  let fail: (why: string) => void = () => {}
  const failed = new Promise<string>((resolve) => (fail = resolve))
  const running: Running = {
    failed,
    reload() {
      if (!tlsWatch) return log.log('info', 'SIGHUP: nothing to read again (Postern takes its settings from flags and the environment at start; restart it to change them)')
      const found = tlsWatch.checkNow()
      log.log(found === 'unusable' ? 'warn' : 'info', `SIGHUP: TLS certificate and key read again: ${TLS_CHECK_SAID[found]}`, { cert: config.tls?.cert, key: config.tls?.key })
    },
    async close(signal) {
      closing = true
      const began = Date.now()
      // What is drained, said before it is, so a stop that takes its whole bound is understood.
      if (serving) {
        const inFlight = Object.fromEntries(servers.map((s) => [s.plane, s.drain.inFlight()]))
        log.log('info', `stopping: no new connections; idle kept-alive connections closed; requests in flight finish within ${DRAIN_MS / 1000} s, then their connections close${stopNginx ? '; nginx stops gracefully (SIGQUIT) likewise' : ''}; WebSockets closed`, { ...(signal && { signal }), inFlight })
      }
      follower.stop()
      clearInterval(maintenance)
      clearInterval(grantSweep)
      testClock?.stop()
      for (const end of beforeServersClose) end()
      let drained: Awaited<ReturnType<ReturnType<typeof drainable>['drain']>>[] = []
      try {
        ;[drained] = await Promise.all([Promise.all(servers.map((s) => s.drain.drain(DRAIN_MS))), stopNginx?.()])
        for (const close of closers) await close()
      } finally {
        // Whatever failed above, the store is closed (the embedded one checkpoints its log into the file).
        await store.close()
      }
      const cut = drained.reduce((n, d) => n + d.cut, 0)
      const boundReached = drained.some((d) => d.boundReached)
      if (serving) log.log('info', 'stopped', { tookMs: Date.now() - began, ...(boundReached && { cutAfterMs: DRAIN_MS, cutRequests: cut }) })
    },
  }

  // The ports first, then the first start's owner: a start that cannot listen leaves the store
  // as it found it, so the next one still creates the owner and prints its password.
  try {
    await listenPlanes()
  } catch (err) {
    await running.close().catch(() => undefined)
    throw err
  }
  // Once every plane listens: a start that fails on a busy gateway port leaves the running server's note alone.
  const previousControlUrl = recordedControlUrl(config.dataDir)
  if (running.controlUrl) {
    try {
      recordControlUrl(config.dataDir, running.controlUrl)
    } catch (err) {
      log.log('warn', 'could not note the control URL in the data directory; serve --reset-owner-password will need --port', { err: (err as Error).message })
    }
  }
  // The restore brings the installation's owner; the follower reloads it once the restore is over.
  // Only a process serving the control plane creates the owner, and so prints its password: the
  // operator signs in through that plane and reads its output, not a gateway's, which may be
  // one of many started together (and a gateway-only start on an empty store has no one to sign
  // in). A gateway-only process on a store without an owner creates none and says so.
  const notBootstrapped: BootstrapResult = { firstStart: false, owner: config.owner, ownerUid: '' }
  const ownerless = restoring === undefined && !config.planes.control && !(await store.getPolicy(ORGANIZATION))
  if (ownerless) log.log('warn', 'no owner yet: a process serving only the gateway does not create one; the first process started with the control plane (--planes control, or both) creates the owner and prints its password')
  // A bootstrap that refuses (a project id or owner it cannot take) stops the planes it listens on, or the process would stay up serving nothing.
  const boot =
    restoring !== undefined || !config.planes.control
      ? notBootstrapped
      : await bootstrap(store, { owner: config.owner, project: config.project, now: clock() }).catch(async (err: unknown) => {
        await running.close().catch(() => undefined)
        throw err
      })
  // While a restore is under way a catch-up may fail on tables not there yet: the follower retries at its polls.
  await (restoring === undefined ? follower.catchUp() : follower.catchUp().catch((err: Error) => freshness.failed(err)))

  async function listenPlanes() {
    if (config.planes.control) {
      const handler = sessions.wrap(createControlHandler(deps, [
        anonymous(oidcRoutes(deps, { ...signInGrants, [GRANT.tokenExchange]: tokenExchangeGrant(providerKeys) })),
        anonymous(signInRoutes(deps, sessions)),
        anonymous(federatedSignInRoutes(deps, providerKeys)),
        anonymous(serviceSignInRoutes(deps, sessions)),
        roleRoutes,
        organizationRoutes,
        projectRoutes,
        serviceRoutes,
        iamPolicyRoutes,
        serviceAccountRoutes,
        serviceAccountTokenRoutes,
        userRoutes,
        groupRoutes,
        workforcePoolRoutes,
        troubleshootRoutes,
        auditLogRoutes,
        accessRequestRoutes({ waiters: accessRequestWaiters }),
        accessTestRoutes,
        metricsRoutes(observability),
        anonymous(consoleRoutes(loadConsoleAssets(defaultConsoleDir()))),
        anonymous((r) => r.add('GET', '/readyz', async (c) => ((await serveObservability('/readyz', c.res, observability)), 'sent'))),
      ]))
      // Control-plane requests are small (JSON, forms): the whole request, body included, within 30 s.
      // requireHostHeader off: a request without Host gets the one error shape (server.ts), not Node's bare 400.
      const port = await listen('control', handler, config.port, { headersTimeout: 20_000, requestTimeout: 30_000, keepAliveTimeout: 5_000, connectionsCheckingInterval: 1_000, requireHostHeader: false })
      running.controlUrl = config.controlUrl.replace(/:\d+$/, `:${port}`)
    }

    if (config.planes.gateway) {
      // Upstreams of services with useHttp2: one h2c session per origin.
      const h2Upstreams = new H2Sessions({ idleMs: 60_000 })
      closers.push(async () => h2Upstreams.close())
      const upstreams = new Upstreams(h2Upstreams)
      closers.push(() => upstreams.close())
      const signIns = new SignIns(store)
      const authenticator = new GatewayAuthenticator(keyring, directory, signIns, config.issuer)
      const authorizer = new InvokeAuthorizer(directory)
      metrics.gauge('postern_token_cache_hit_ratio', 'Share of token checks answered from the verified-token cache.', () => authenticator.hitRatio())
      metrics.gauge('postern_decision_cache_hit_ratio', 'Share of access decisions answered from the decision cache.', () => authorizer.hitRatio())
      const browserSessions = new BrowserSessions(store, directory, sessionCookieKey(master))
      const browser = createBrowserFlow({
        sessions: browserSessions,
        store,
        cookies: browserCookies(secureContext(config.gatewayUrl, Boolean(config.tls))),
        signInUrl: config.issuer + SERVICE_SIGN_IN_PATH,
      })
      // What the nginx data plane shows on its questions (decision-key.ts): serve's own nginx, or one from `postern nginx-config`.
      const nginxKey = decisionKey(master)
      const gateway = createGateway({
        routes: new RouteTable(directory, config.gatewayUrl, publicScheme(config.gatewayUrl, Boolean(config.tls))),
        authenticator,
        authorizer,
        assertions: new AssertionMinter(tokens, () => keyring.removals),
        upstreams,
        denials: refusals,
        metrics,
        freshness,
        clock,
        proto: publicScheme(config.gatewayUrl, Boolean(config.tls)),
        trustedProxies: config.trustedProxies,
        issuer: config.issuer,
        log,
        accessLog: config.accessLog,
        internal: internalEndpoints({ forwardAuth: () => forward, nginx: () => nginxDecisions, fromNginx: showsDecisionKey(nginxKey), observability, log }),
        browser,
        browserSessions,
      })
      afterChanges.push((changes) => browserSessions.forget(changes), (changes) => signIns.forget(changes), () => gateway.recheckTunnels())
      afterReload.push(() => browserSessions.forgetAll(), () => signIns.forgetAll())
      beforeServersClose.push(() => gateway.closeTunnels())
      const record: (service: string, verdict: Parameters<typeof metrics.request>[1]) => void = (service, verdict) => metrics.request(service, verdict, 0)
      const forward = forwardAuth(gateway, config.issuer, record)
      const h2Deps: H2GatewayDeps = {
        decideAccess: gateway.decideAccess,
        identityOf: gateway.identityOf,
        trackStream: gateway.trackStream,
        upstreams,
        h2Upstreams,
        metrics,
        proto: publicScheme(config.gatewayUrl, Boolean(config.tls)),
        trustedProxies: config.trustedProxies,
        issuer: config.issuer,
        log,
        accessLog: config.accessLog,
      }
      const onStream = createH2Gateway(h2Deps)
      // Streams nginx hands over come from the caller nginx names, not from nginx's socket.
      const nginxOnStream = createH2Gateway({ ...h2Deps, callerAddress: (_stream, headers) => nginxNamedClient(headers) })
      // Upstreams' addresses, which nginx's verdicts carry (so their changes reload no nginx).
      const peers = new UpstreamPeers()
      const peersOf = (origin: string) => peers.of(origin)
      const refreshPeers = () => {
        peers.refresh([...directory.allServices()].map((s) => s.upstream)).catch((err: unknown) => log.log('warn', 'could not resolve the upstreams\' host names again', { err: String(err) }))
      }
      afterChanges.push((changes) => changes.some((c) => c.kind === 'service') && refreshPeers())
      afterReload.push(refreshPeers)
      const nginxDecisions = {
        decide: decisionEndpoint(gateway, { issuer: config.issuer, clock, record, publicKey: (kid) => keyring.publicKey(kid), peers: peersOf }),
        renew: renewalEndpoint(gateway, {
          issuer: config.issuer,
          clock,
          record,
          viewEpoch: () => `${reloads}.${follower.position}`,
          stale: (now) => freshness.stale(now),
          counted: metrics.counter('postern_nginx_renewals_total', "Lines of the nginx data plane's bulk renewals, by answer: allow (with the verdict), same (the verdict nginx holds still holds), refuse.", 'answer'),
          peers: peersOf,
        }),
        upstreamError: upstreamErrorEndpoint(),
      }
      // Tokens may be large and a request may carry many headers: both are checked by the gateway
      // itself (401 and 431 with a clear message) rather than cut off by Node's defaults. A body
      // must arrive within its service's timeout (the gateway's own deadline, 408); Node's request
      // timeout is the backstop for anything else: the longest service timeout and a minute.
      // requireHostHeader off: checkRequestShape answers a missing Host in the one error shape.
      const gatewayOptions: ServerOptions = { headersTimeout: 10_000, requestTimeout: 3_660_000, keepAliveTimeout: 5_000, maxHeaderSize: MAX_HEADER_BYTES, connectionsCheckingInterval: 1_000, requireHostHeader: false }
      if (config.dataPlane === 'nginx') {
        // nginx carries the bytes on the gateway port; Postern decides on a socket only nginx uses.
        const plane = await startNginxPlane({
          listen: { host: config.host, port: config.gatewayPort },
          dataDir: config.dataDir,
          tls: config.tls,
          extraCaCerts: config.extraCaCerts,
          decisionKey: nginxKey,
          trustedProxies: config.trustedProxies,
          proto: publicScheme(config.gatewayUrl, Boolean(config.tls)),
          publicPort: config.gatewayUrl.port,
          gatewayHost: config.gatewayUrl.hostname.toLowerCase(),
          maxConnections: config.maxConnections,
          request: gateway.request,
          upgrade: gateway.upgrade,
          stream: nginxOnStream,
          // nginx's questions carry the caller's headers (up to MAX_HEADER_BYTES, which nginx
          // checks) and its own beside them, the request's target among them: room for both.
          serverOptions: { ...gatewayOptions, keepAliveTimeout: 65_000, maxHeaderSize: 2 * MAX_HEADER_BYTES },
          services: () => directory.allServices(),
          log,
          nginxLost: (why) => fail(why),
        })
        stopNginx = () => plane.close()
        afterChanges.push((changes) => changes.some((c) => c.kind === 'service') && plane.servicesChanged())
        tlsRenewed.push(() => plane.tlsChanged())
        running.gatewayUrl = listenUrl(config.host, config.gatewayPort)
        notes.push(`Data plane: nginx (pid ${plane.nginxPid}), configuration in ${config.dataDir}/nginx/nginx.conf`)
      } else {
        const port = await listen('gateway', gateway.request, config.gatewayPort, gatewayOptions, (server) => {
          server.maxHeadersCount = 0
          server.timeout = 300_000
          server.on('upgrade', servingH2cAsHttp1(server, inTurn(gateway.upgrade)))
          server.on('checkContinue', (req, res) => gateway.request(req, res, true))
          // HTTP/2 on the same port: ALPN h2 under TLS, h2c with prior knowledge in cleartext.
          serveHttp2Beside(server, { tls: Boolean(config.tls), onStream, idleTimeoutMs: 300_000, prefaceTimeoutMs: 10_000, onSessionError: (err) => log.log('info', 'http2 session error', { err: err.message }) })
        })
        running.gatewayUrl = listenUrl(config.host, port)
      }
    }

    if (config.metricsPort !== undefined) {
      const port = await listen('metrics', observabilityListener(observability), config.metricsPort, { headersTimeout: 10_000, requestTimeout: 10_000, keepAliveTimeout: 5_000 })
      notes.push(`Metrics (no credential needed): ${listenUrl(config.metricsHost, port)}/metrics`)
    }
  }

  if (config.tls && tlsRenewed.length > 0) {
    const watch = (tlsWatch = watchTlsFiles(config.tls, (loaded) => {
      servedTls = loaded
      for (const take of tlsRenewed) take(loaded.pair)
      sayExpiry()
    }, { intervalMs: config.tlsCheckMs, log }))
    closers.push(async () => watch.stop())
  }

  if (restoring !== undefined) notes.push(`The database is being restored (${restoring}): answering 503 until the restore is over (GET /readyz says why).`)
  /** The demo service's upstream, when this start registered it: its note waits for the CLI's sign-in, below. */
  let demoUpstream: string | undefined
  if (config.demo && leader && restoring !== undefined) notes.push('Demo: not registered, the database is being restored.')
  // A service in a store without its organization would read, to the control plane starting next, as a restore under way.
  else if (config.demo && leader && ownerless) notes.push('Demo: not registered, there is no owner yet (start the control plane first).')
  else if (config.demo && leader) {
    const demo = await startDemoUpstream()
    closers.push(() => new Promise((r) => demo.server.close(() => r())))
    await registerDemoService(store, config.project, demo.url, clock())
    await follower.catchUp()
    demoUpstream = demo.url
  }

  if (boot.firstStart) {
    io.stdout(`Created organization organizations/local, project ${config.project} and owner ${boot.owner}.\n`)
    io.stdout(`Owner password (shown once, keep it safe): ${boot.password}\n`)
  }
  let localCli: LocalCliSignIn = { kind: 'left-alone' }
  if (config.planes.control && running.controlUrl && isLoopback(config.host)) {
    if (boot.firstStart) localCli = await signInLocalCli(config, running.controlUrl, { email: boot.owner, uid: boot.ownerUid }, store, clock, io)
    else {
      const moved = movedServerHint(config.cliConfigDir, previousControlUrl, running.controlUrl)
      if (moved) io.stdout(moved + '\n')
    }
  }
  if (demoUpstream !== undefined) {
    // The curl line works only once the CLI talks to this server as someone: what to type first, when the start could not sign it in here.
    const first = running.controlUrl ? commandsToSignIn(localCli, running.controlUrl, config.cliConfigDir) : []
    const lines = [...(io.pathHint ? [io.pathHint] : []), ...first, `curl -H "Authorization: Bearer $(postern auth print-identity-token)" ${config.gatewayUrl.protocol}//hello.${config.project}.${config.gatewayUrl.host}`]
    const signIn = localCli.kind === 'elsewhere' ? ` (postern auth login as ${boot.owner}, with the password above)` : ''
    notes.push(`Demo: the private service "hello" forwards to ${demoUpstream}; try, in another shell${signIn}:\n${lines.map((l) => `  ${l}\n`).join('').trimEnd()}`)
  }
  if (io.pathHint && !config.demo) notes.push(`To have the postern command in another shell: ${io.pathHint}`)
  for (const note of notes) out.stdout(note + '\n')
  if (running.controlUrl) out.stdout(`Control plane (API, sign-in, console): ${running.controlUrl}\n`)
  if (running.gatewayUrl) out.stdout(`Gateway: ${running.gatewayUrl} (services at ${config.gatewayUrl.protocol}//SERVICE.PROJECT.${config.gatewayUrl.host})\n`)
  serving = true
  if (worker === undefined) out.stdout('Postern is ready.\n')
  else process.send?.('ready')
  return running
}

/**
 * One `postern serve` (one primary under --workers) per embedded store: a second on the data dir
 * stops here, before it reads or writes anything there, naming the first. Returns the release.
 * With PostgreSQL, processes share the database by design (README, "Running more than one process").
 */
export function claimServedDataDir(config: ServeConfig): () => void {
  if (config.databaseUrl) return () => undefined
  const claim = claimDataDir(config.dataDir, {
    pid: process.pid,
    ...(config.planes.control && { controlUrl: config.controlUrl }),
    ...(config.planes.gateway && { gatewayUrl: `${config.tls ? 'https' : 'http'}://${config.host.includes(':') ? `[${config.host}]` : config.host}:${config.gatewayPort}` }),
  })
  if (!claim.held) throw new PosternError('FAILED_PRECONDITION', dataDirHeldMessage(config.dataDir, claim.by))
  return claim.release
}

/**
 * `postern serve --reset-owner-password`: a one-shot on the machine that holds the data. It needs
 * no running server and does not start one (a running one takes the change at once).
 */
export async function resetOwner(config: ServeConfig, explicitOwner: string | undefined, io: { stdout: (s: string) => void; stderr: (s: string) => void }): Promise<void> {
  if (!storeIsOnThisMachine(config.databaseUrl)) {
    throw new PosternError('FAILED_PRECONDITION', '--reset-owner-password works only where the data is: with the embedded store, or with a PostgreSQL on this machine (localhost or a Unix socket). Run it on the database\'s machine.')
  }
  const clock = systemClock
  const log = createLogger(io.stderr, config.logLevel)
  const store = await openStore({ dataDir: config.dataDir, databaseUrl: config.databaseUrl, clock, onError: (err) => log.log('warn', 'database connection error', { err: err.message }) }, 'all')
  try {
    const reset = await resetOwnerPassword(store, { owner: explicitOwner, fallbackOwner: config.owner, now: clock() })
    for (const m of reset.mended) io.stdout(`Also ${m}.\n`)
    io.stdout(`New password for ${reset.owner} (shown once, keep it safe): ${reset.password}\n`)
    io.stdout(`Every session and refresh token of ${reset.owner} has ended; sign in again with the new password.\n`)
    if (isLoopback(config.host)) {
      const controlUrl = controlUrlForReset(config)
      const outcome = await signInLocalCli(config, controlUrl, { email: reset.owner, uid: reset.ownerUid, onlyReplacing: 'owner' }, store, clock, io)
      if (outcome.kind === 'left-alone') io.stdout(`The postern CLI (config in ${config.cliConfigDir}) was left as it is: it is not set to ${reset.owner} at ${controlUrl}, the server of this data directory. To sign it in: postern auth login ${reset.owner}\n`)
    }
  } finally {
    await store.close()
  }
}

/**
 * `postern nginx-config`: the nginx data plane's configuration for people who run nginx
 * themselves, from the services in the store; nginx asks the Postern gateway at `decisions`.
 */
export async function nginxConfigFromStore(config: ServeConfig, o: { listen: { host: string; port: number }; decisions: string; modulesDir: string; upstreamCa: string }): Promise<string> {
  // The decision key comes from the master key of the Postern nginx will ask: a key made up here would match none.
  const fileKey = config.masterKeySecret ? undefined : existingMasterKeyFile(config.dataDir)
  if (!config.masterKeySecret && !fileKey) {
    throw new PosternError('FAILED_PRECONDITION', `No master key: POSTERN_MASTER_KEY is not set and ${join(config.dataDir, 'master.key')} does not exist. The configuration carries a key derived from the master key of the Postern nginx will ask: run this with that Postern's --data-dir, or its POSTERN_MASTER_KEY.`)
  }
  const log = createLogger(() => {}, 'error')
  const store = await openStore({ dataDir: config.dataDir, databaseUrl: config.databaseUrl, clock: systemClock, onError: (err) => log.log('warn', 'database connection error', { err: err.message }) }, 'all')
  try {
    const master = fileKey ?? (await masterKeyFor(store, masterKeysOf(config.masterKeySecret!), true, systemClock))
    const directory = new Directory(store)
    await directory.loadAll()
    return nginxConfig({ listen: o.listen, decisions: o.decisions, decisionKey: decisionKey(master), runDir: '.', shape: shapeServices(directory.allServices()).shape, modulesDir: o.modulesDir, workerProcesses: 'auto', upstreamCa: o.upstreamCa, trustedProxies: config.trustedProxies, proto: config.gatewayUrl.protocol === 'https:' ? 'https' : undefined, publicPort: config.gatewayUrl.port, gatewayHost: config.gatewayUrl.hostname.toLowerCase(), maxConnections: config.maxConnections })
  } finally {
    await store.close()
  }
}

/**
 * Which of the keys POSTERN_MASTER_KEY stands for (masterKeysOf) this process uses: the one that
 * opens the store's signing keys, as serve and nginx-config alike must choose, or the decision key
 * nginx is given would not be the gateway's. `readable` false (a restore under way): the first.
 */
async function masterKeyFor(store: Store, candidates: MasterKey[], readable: boolean, clock: () => number): Promise<MasterKey> {
  if (!readable || candidates.length === 1) return candidates[0]!
  const now = clock()
  return masterKeyOpening(candidates, (await store.listSigningKeys()).filter((r) => r.expireTime > now))
}

/** "N signing keys in the store were sealed with another master key": what both messages below begin with. */
function sealedElsewhere(count: number, where: string): string {
  return `${count} signing key${count === 1 ? '' : 's'} in the ${where} ${count === 1 ? 'was' : 'were'} sealed with another master key`
}

/** Why a running process does not reload from a database whose signing keys its master key cannot open, and what to do. */
function restoredWithAnotherMasterKey(config: ServeConfig, count: number): string {
  const key = config.masterKeySecret ? 'POSTERN_MASTER_KEY' : join(config.dataDir, 'master.key')
  return `${sealedElsewhere(count, 'database')} than ${key}: the database holds a backup of another installation. Failing closed until this process is restarted with that installation's master key, or this installation's backup is restored.`
}

/** Why a process whose master key cannot open the store's signing keys refuses to start, and what to do. */
function masterKeyMismatch(config: ServeConfig, count: number, created: string | undefined): string {
  const keys = sealedElsewhere(count, 'store')
  if (created) return `${keys}, and ${created} was missing (a new one was not kept): restore the master.key this data dir had, or set POSTERN_MASTER_KEY to what the store was made with: the other processes' POSTERN_MASTER_KEY, or the content of that master.key (POSTERN_MASTER_KEY=$(cat master.key)).`
  if (config.masterKeySecret) return `${keys} than POSTERN_MASTER_KEY: every process sharing this database needs the same POSTERN_MASTER_KEY (a passphrase, or the content of the master.key the store was made with). Nothing was changed.`
  return `${keys} than ${join(config.dataDir, 'master.key')}: set POSTERN_MASTER_KEY to the one the other processes sharing this database use, or restore this data dir's master.key. Nothing was changed.`
}
