import { ORGANIZATION } from '../../iam/resources.js'
import type { Router } from '../../http/router.js'
import { serveObservability, type ObservabilityDeps } from '../../observability/endpoints.js'
import { allowRead, type Handler } from '../handler.js'

/**
 * GET /metrics on the control plane, for a caller who may list every service: the series name
 * each service and its traffic, and every caller can reach this port (the CLI signs in here, the
 * console is here). That is run.services.list on the organization (Run Viewer, Viewer, Owner…
 * there): what `postern services list` needs, in every project at once. A Prometheus without
 * credentials scrapes `--metrics-port`, which listens on loopback unless `--metrics-host` says
 * otherwise.
 */
export function metricsRoutes(observability: ObservabilityDeps) {
  return (r: Router<Handler>): void => {
    r.add('GET', '/metrics', async (c) => {
      allowRead(c, 'run.services.list', ORGANIZATION, 'the metrics name every service of every project and its traffic; a scraper without credentials reads serve --metrics-port instead')
      await serveObservability('/metrics', c.res, observability)
      return 'sent'
    })
  }
}
