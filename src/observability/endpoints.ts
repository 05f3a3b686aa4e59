import type { IncomingMessage, ServerResponse } from 'node:http'
import { conditionOf } from '../core/errors.js'
import type { Store } from '../store/store.js'
import type { Freshness } from './health.js'
import type { Metrics } from './metrics.js'

export interface ObservabilityDeps {
  metrics: Metrics
  freshness: Freshness
  /** The database's answer to a ping, bounded (boundedPing): 'ok', or what is wrong. */
  ping: () => Promise<string>
  /** Why the database refuses writes now (refused-writes.ts), if it does. */
  writesRefused?: () => string | undefined
}

/** How long /readyz waits for the database's answer: probes commonly time out after 1 s. */
export const READY_PING_MS = 800

/**
 * The store's ping, answered within `withinMs` whatever the database does. A connection that
 * went silent without a reset (a proxy holding bytes, a partition) only fails at the query's
 * own bound, 12 s on PostgreSQL: a probe would see nothing but its own timeouts, where it needs a
 * 503 saying why. Probes that come while a ping is in flight share it rather than queue more
 * queries on a database that is not answering.
 */
export function boundedPing(store: Pick<Store, 'ping'>, withinMs = READY_PING_MS): () => Promise<string> {
  let inFlight: Promise<string> | undefined
  return () => {
    const pinging = (inFlight ??= store.ping().then(() => 'ok', (err: Error) => conditionOf(err)).finally(() => (inFlight = undefined)))
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<string>((resolve) => (timer = setTimeout(() => resolve(`the database did not answer within ${withinMs} ms`), withinMs)))
    return Promise.race([pinging, late]).finally(() => clearTimeout(timer))
  }
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' })
  res.end(body)
}

/**
 * /healthz (the process answers), /readyz (it can reach the store and its view is current) and
 * /metrics (Prometheus), to anyone: this is what `--metrics-port` serves, on loopback unless
 * `--metrics-host` says otherwise. The control plane serves /readyz this way too, but /metrics
 * only to a caller who may list every service (control/routes/metrics.ts); the gateway answers
 * /healthz and /readyz on any host that is not a service, so a load balancer can probe a
 * gateway-only process, but never /metrics, which names every service.
 */
export async function serveObservability(path: string, res: ServerResponse, deps: ObservabilityDeps): Promise<boolean> {
  if (path === '/healthz') {
    send(res, 200, 'application/json', '{"status":"ok"}')
    return true
  }
  if (path === '/readyz') {
    const database = await deps.ping()
    const status = deps.freshness.status()
    const ready = status.ready && database === 'ok'
    // `error` says why not ready, agreeing with `database`: the database first (not answering now
    // is why the feed is behind, if it is), then what the view's freshness says.
    const error = database !== 'ok' ? database : status.error
    // Writes refused (a full disk) leave the process ready: it still decides every request from a
    // current view, and reads and sign-ins with tokens go on. The only process on an embedded
    // store taken out of its load balancer would refuse those too, for want of room to write an
    // audit row: said here, in the log and in /metrics, not by a 503.
    const writesRefused = deps.writesRefused?.()
    send(res, ready ? 200 : 503, 'application/json', JSON.stringify({ status: ready ? 'ready' : 'not ready', database, changeFeedAgeMs: status.ageMs, ...(writesRefused && { writesRefused }), ...(!ready && error && { error }) }))
    return true
  }
  if (path === '/metrics') {
    send(res, 200, 'text/plain; version=0.0.4; charset=utf-8', deps.metrics.render())
    return true
  }
  return false
}

/** The `--metrics-port` listener: /metrics, /healthz and /readyz, nothing else. */
export function observabilityListener(deps: ObservabilityDeps) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    req.resume()
    void serveObservability(pathOf(req), res, deps).then((served) => {
      if (!served) send(res, 404, 'application/json', '{"error":{"code":404,"status":"NOT_FOUND","message":"Only /metrics, /healthz and /readyz are served here."}}')
    })
  }
}

export function pathOf(req: IncomingMessage): string {
  const url = req.url ?? '/'
  const q = url.indexOf('?')
  return q < 0 ? url : url.slice(0, q)
}
