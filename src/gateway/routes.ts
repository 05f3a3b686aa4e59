import type { Directory } from '../directory/directory.js'
import { lineage, serviceName } from '../iam/resources.js'
import type { ServiceRecord } from '../store/records.js'
import { CLI_CLIENT_ID } from '../api/clients.js'
import { serviceUri } from '../iam/service-url.js'
import { redirectRewrite, type RedirectRewrite } from '../http/redirect-location.js'

/** What the gateway needs per service, computed once per service change, not per request. */
export interface Route {
  service: ServiceRecord
  resource: string
  lineage: readonly string[]
  uri: string
  /** The host (and port) of `uri`: what upstreams are told the caller asked for (X-Forwarded-Host), whatever port or case the caller's Host had. */
  publicHost: string
  /** Token audiences accepted (DESIGN §3): the URL, with one trailing slash, custom audiences, and postern-cli unless strict. */
  audiences: ReadonlySet<string>
  upstream: { origin: string; basePath: string }
  /**
   * A Location or Refresh naming the upstream's URL names the public one instead: the scheme and
   * host upstreams are told in X-Forwarded-Proto and X-Forwarded-Host (http/redirect-location.ts).
   */
  redirects: RedirectRewrite
}

const HOST = /^[a-z0-9.-]{1,253}(:\d{1,5})?$/

export type HostLookup = { route: Route } | { error: 'bad-host' } | { error: 'unknown' }

/**
 * Routing by Host (DESIGN §4 step 1): `{service}.{project}.{gateway host}`, with or without the
 * trailing dot of a fully qualified name. The port is ignored, so a load balancer on another port
 * routes the same. Rebuilt lazily when the services change.
 */
export class RouteTable {
  private routes = new Map<string, Route>()
  private epoch = -1
  private readonly suffix: string

  constructor(
    private readonly directory: Directory,
    private readonly gatewayUrl: URL,
    /** The scheme callers use (public-scheme.ts), as X-Forwarded-Proto says it. */
    private readonly proto: 'http' | 'https' = gatewayUrl.protocol === 'https:' ? 'https' : 'http',
  ) {
    this.suffix = '.' + gatewayUrl.hostname.toLowerCase()
  }

  lookup(hostHeader: string | undefined): HostLookup {
    if (!hostHeader) return { error: 'bad-host' }
    const host = hostHeader.toLowerCase()
    if (!HOST.test(host)) return { error: 'bad-host' }
    if (this.epoch !== this.directory.servicesEpoch) this.rebuild()
    const colon = host.lastIndexOf(':')
    // A fully qualified name's trailing dot (curl http://hello.my-project.example./) names the same host, as nginx takes it.
    const name = trimDot(colon < 0 ? host : host.slice(0, colon))
    const route = name.endsWith(this.suffix) ? this.routes.get(name.slice(0, -this.suffix.length)) : undefined
    return route ? { route } : { error: 'unknown' }
  }

  private rebuild(): void {
    this.epoch = this.directory.servicesEpoch
    const next = new Map<string, Route>()
    for (const s of this.directory.allServices()) {
      const resource = serviceName(s.projectId, s.serviceId)
      const uri = serviceUri(this.gatewayUrl, s.projectId, s.serviceId)
      const audiences = new Set([uri, uri + '/', ...s.customAudiences])
      if (!s.strictAudience) audiences.add(CLI_CLIENT_ID)
      const upstream = new URL(s.upstream)
      // Not new URL(uri).host: a name ending in a number (a gateway URL of 127.0.0.1) is no URL host.
      const publicHost = uri.slice(uri.indexOf('//') + 2)
      next.set(`${s.serviceId}.${s.projectId}`, {
        service: s,
        resource,
        lineage: lineage(resource),
        uri,
        publicHost,
        audiences,
        upstream: { origin: upstream.origin, basePath: upstream.pathname === '/' ? '' : upstream.pathname.replace(/\/$/, '') },
        redirects: redirectRewrite(upstream, { scheme: this.proto, host: publicHost }),
      })
    }
    this.routes = next
  }
}

const trimDot = (name: string) => (name.endsWith('.') ? name.slice(0, -1) : name)
