import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Store } from '../store/store.js'
import type { Freshness } from './health.js'
import type { Metrics } from './metrics.js'

export interface ObservabilityDeps {
  metrics: Metrics
  freshness: Freshness
  store: Store
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
    const status = deps.freshness.status()
    let database = 'ok'
    try {
      await deps.store.ping()
    } catch (err) {
      database = (err as Error).message
    }
    const ready = status.ready && database === 'ok'
    send(res, ready ? 200 : 503, 'application/json', JSON.stringify({ status: ready ? 'ready' : 'not ready', database, changeFeedAgeMs: status.ageMs, ...(status.error && { error: status.error }) }))
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
