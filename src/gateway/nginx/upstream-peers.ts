import { lookup } from 'node:dns/promises'
import { isIP } from 'node:net'

/**
 * The addresses nginx forwards a service's requests to, carried in each verdict (decision.ts)
 * rather than written into nginx's configuration: so creating, deleting or re-pointing a service
 * needs no reload of nginx, whose retiring workers would close every kept-alive connection and
 * race the requests callers were sending on them. An upstream named by an address is its own; a
 * host name is resolved here (IPv4 first, as nginx tries them), when a verdict first asks for it
 * (that verdict waits, as a proxy connecting to it would) and again whenever services change, as
 * nginx would resolve an upstream block's names each time it loads its configuration.
 */
export class UpstreamPeers {
  private readonly names = new Map<string, readonly string[]>()
  private readonly resolving = new Map<string, Promise<void>>()
  /** By origin: what `of` answers, made once (it is asked on every decision). */
  private readonly memo = new Map<string, string | undefined>()

  constructor(private readonly resolve: (host: string) => Promise<string[]> = addressesOf) {}

  /**
   * An origin's peers as a verdict carries them, `host:port,host:port` (IPv6 in brackets), or
   * undefined when its host name resolved to nothing (or took longer than LOOKUP_WAIT_MS): then
   * Postern's own gateway forwards the request, resolving the name as it connects. A promise the
   * first time a host name is asked for.
   */
  of(origin: string): string | undefined | Promise<string | undefined> {
    if (this.memo.has(origin)) return this.memo.get(origin)
    const url = new URL(origin)
    const host = url.hostname.replace(/^\[|\]$/g, '')
    const addresses = isIP(host) ? [host] : this.names.get(host)
    if (addresses === undefined) {
      const found = this.lookUp(host).then(() => this.peersOf(origin, url, this.names.get(host) ?? []))
      return Promise.race([found, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), LOOKUP_WAIT_MS).unref())])
    }
    return this.peersOf(origin, url, addresses)
  }

  private peersOf(origin: string, url: URL, addresses: readonly string[]): string | undefined {
    const port = url.port || (url.protocol === 'https:' ? '443' : '80')
    const peers = addresses.map((a) => (a.includes(':') ? `[${a}]:${port}` : `${a}:${port}`)).join(',') || undefined
    if (this.memo.size > 100_000) this.memo.clear()
    this.memo.set(origin, peers)
    return peers
  }

  /**
   * After services changed: looks up again the host names verdicts have carried that these
   * upstreams still use, and forgets the others. A name no verdict has asked for is left alone (on
   * the Node data plane, with no nginx asking, nothing is ever looked up: lookups share libuv's
   * threads with token signature checks).
   */
  async refresh(upstreams: Iterable<string>): Promise<void> {
    if (this.names.size === 0 && this.resolving.size === 0) return
    const inUse = new Set<string>()
    for (const upstream of upstreams) inUse.add(new URL(upstream).hostname.replace(/^\[|\]$/g, ''))
    for (const host of this.names.keys()) if (!inUse.has(host)) this.names.delete(host)
    this.memo.clear()
    const asked = new Set([...this.names.keys(), ...[...this.resolving.keys()].filter((host) => inUse.has(host))])
    await Promise.all([...asked].map((host) => this.lookUp(host)))
  }

  private lookUp(host: string): Promise<void> {
    const inFlight = this.resolving.get(host)
    if (inFlight) return inFlight
    const done = this.resolve(host).then((addresses) => {
      this.names.set(host, addresses)
      this.memo.clear()
      this.resolving.delete(host)
    })
    this.resolving.set(host, done)
    return done
  }
}

/** How long a verdict waits for its upstream's host name to be looked up before Postern's gateway is left to forward it. */
export const LOOKUP_WAIT_MS = 2_000

/** A host name's addresses, IPv4 first (tried in this order), or none when it does not resolve. */
export async function addressesOf(host: string): Promise<string[]> {
  try {
    const found = await lookup(host, { all: true })
    return [...new Set(found.sort((a, b) => a.family - b.family).map((a) => a.address))]
  } catch {
    return []
  }
}
