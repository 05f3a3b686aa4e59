/**
 * What of the services the nginx data plane's configuration must hold, and so when a change to
 * them is worth a reload (whose retiring workers close the kept-alive connections callers are
 * sending on). Everything else about a service — its upstream, its addresses, its timeout from a
 * minute up — comes in its verdicts (decision.ts).
 */
export interface NginxShape {
  /**
   * Upstream blocks for https upstreams, one a server name, which each nginx worker gives out as
   * it first forwards to a name (nginx-lua-balancer.ts).
   */
  tlsBlocks: number
  /**
   * Timeouts under a minute, each a named location: nginx waits for a pausing body for the
   * service's timeout, a minute at most, and client_body_timeout cannot be set per request.
   */
  bodyTimeouts: readonly number[]
}

/** The longest nginx waits on a pausing request body (client_body_timeout), whatever the service's timeout. */
export const MAX_BODY_TIMEOUT_SECONDS = 60
/** Blocks for https server names beyond those in use: at least this many, so that a few new names reload nothing. */
const SPARE_TLS_BLOCKS = 32

export interface ShapedServices {
  shape: NginxShape
  /** The https server names that have had services since nginx loaded `shape`: a worker may have given each a block. */
  serverNames: ReadonlySet<string>
  /** Whether nginx must be (re)loaded with `shape`. */
  reload: boolean
  /** Why, when it must: what the reload's log line says. */
  why?: string
}

/**
 * The shape for `services`, after `before` (what nginx was loaded with and has seen since). nginx
 * is reloaded only when a service has a timeout under a minute it has no location for, or when
 * more https server names have had services since it loaded than it has blocks: a worker that has
 * given out every block sends a new name's requests through Postern's gateway. The blocks are
 * then half as many again as the names in use (and SPARE_TLS_BLOCKS more at least), so a reload
 * for names comes after half as many new ones as are in use (33 at least), never on each.
 */
export function shapeServices(services: Iterable<{ upstream: string; timeoutSeconds: number }>, before?: ShapedServices): ShapedServices {
  const serverNames = new Set<string>()
  const bodyTimeouts = new Set<number>()
  for (const s of services) {
    const url = new URL(s.upstream)
    if (url.protocol === 'https:') serverNames.add(url.hostname)
    if (s.timeoutSeconds < MAX_BODY_TIMEOUT_SECONDS) bodyTimeouts.add(s.timeoutSeconds)
  }
  const fresh = (why: string): ShapedServices => ({
    shape: { tlsBlocks: serverNames.size + Math.max(SPARE_TLS_BLOCKS, Math.ceil(serverNames.size / 2)), bodyTimeouts: [...bodyTimeouts].sort((a, b) => a - b) },
    serverNames,
    reload: true,
    why,
  })
  if (!before) return fresh('the first configuration')
  const seen = new Set([...before.serverNames, ...serverNames])
  const located = new Set(before.shape.bodyTimeouts)
  const unlocated = [...bodyTimeouts].filter((t) => !located.has(t)).sort((a, b) => a - b)
  // client_body_timeout is a location's, not a request's (nginx has no variable for it): a new
  // timeout under a minute needs its own location, so a new configuration.
  if (unlocated.length > 0) return fresh(`a service's timeout under a minute that nginx has no location for (${unlocated.map((t) => `${t} s`).join(', ')}); nginx's wait for a pausing request body, client_body_timeout, is set per location`)
  if (seen.size > before.shape.tlsBlocks) return fresh(`${seen.size} https server names have had services since nginx was loaded, more than its ${before.shape.tlsBlocks} upstream blocks`)
  return { shape: before.shape, serverNames: seen, reload: false }
}
