import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Logger } from '../core/log.js'
import { pathOf, serveObservability, type ObservabilityDeps } from '../observability/endpoints.js'
import { FORWARD_AUTH_PATH } from './forward-auth.js'
import { DECISION_PATH, RENEW_PATH, UPSTREAM_ERROR_PATH } from './nginx/decision-protocol.js'

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void>

/**
 * What the gateway answers on a host that is no service: forward-auth for a proxy in front, the
 * decisions of the nginx data plane (to that nginx alone), and
 * health and readiness for the load balancer. Not /metrics: it names every service and its
 * traffic, and the gateway's port is open to every caller; metrics are on the control plane (for
 * a caller who may list every service) and on `--metrics-port`. False: not ours (404).
 */
export function internalEndpoints(o: {
  forwardAuth: () => (req: IncomingMessage, res: ServerResponse) => Promise<void>
  /** The nginx data plane's questions (nginx/decision.ts). */
  nginx: () => { decide: Handler; renew: Handler; upstreamError: (req: IncomingMessage, res: ServerResponse) => void }
  /** Whether a request is the nginx data plane's: it shows the decision key (decision-key.ts). Others do not find its paths. */
  fromNginx: (req: IncomingMessage) => boolean
  observability: ObservabilityDeps
  log: Logger
}) {
  // An nginx whose configuration was printed for another master key finds these paths absent, and
  // its callers get 404s: said in the log, once a minute at most (anyone may knock on them).
  let warnedAt = -Infinity
  return (req: IncomingMessage, res: ServerResponse): boolean => {
    const path = pathOf(req)
    if ((path === DECISION_PATH || path === RENEW_PATH || path === UPSTREAM_ERROR_PATH) && !o.fromNginx(req)) {
      if (performance.now() - warnedAt > 60_000) {
        warnedAt = performance.now()
        o.log.log('warn', 'a request for the nginx data plane’s decisions without its key, answered 404: an nginx configured by `postern nginx-config` for another POSTERN_MASTER_KEY or data dir, or a caller trying the path', { path })
      }
      return false
    }
    if (path === DECISION_PATH || path === RENEW_PATH) {
      const nginx = o.nginx()
      ;(path === DECISION_PATH ? nginx.decide : nginx.renew)(req, res).catch((err) => {
        o.log.log('error', 'nginx decision failed', { err: String(err) })
        res.destroy()
      })
      return true
    }
    if (path === UPSTREAM_ERROR_PATH) {
      o.nginx().upstreamError(req, res)
      return true
    }
    if (path === FORWARD_AUTH_PATH || path.startsWith(FORWARD_AUTH_PATH + '/')) {
      o.forwardAuth()(req, res).catch((err) => {
        o.log.log('error', 'forward-auth failed', { err: String(err) })
        res.destroy()
      })
      return true
    }
    if (path !== '/healthz' && path !== '/readyz') return false
    void serveObservability(path, res, o.observability)
    return true
  }
}
