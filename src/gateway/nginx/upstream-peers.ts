import { lookup } from 'node:dns/promises'
import { isIP } from 'node:net'

/**
 * The addresses nginx forwards a plain-HTTP service's requests to, carried in each verdict
 * (decision.ts) rather than written into nginx's configuration: so creating, deleting or
 * re-pointing such a service needs no reload of nginx, whose retiring workers would close every
 * kept-alive connection and race the requests callers were sending on them. An upstream named by
 * an address is its own; a host name is resolved here (IPv4 first, as nginx tries them), when
 * first asked for and again whenever services change, as nginx would resolve an upstream block's
 * names each time it loads its configuration.
 */
export class UpstreamPeers {
  private readonly names = new Map<string, readonly string[]>()
  private readonly resolving = new Map<string, Promise<void>>()
  /** By origin: what `of` answers, made once (it is asked on every decision). */
  private readonly memo = new Map<string, string | undefined>()

  constructor(private readonly resolve: (host: string) => Promise<string[]> = addressesOf) {}

  /**
   * An origin's peers as a verdict carries them, `host:port,host:port` (IPv6 in brackets), or
   * undefined while its host name has not been resolved or resolved to nothing: then Postern's
   * own gateway forwards the request, resolving the name as it connects.
   */
  of(origin: string): string | undefined {
    if (this.memo.has(origin)) return this.memo.get(origin)
    const url = new URL(origin)
    const host = url.hostname.replace(/^\[|\]$/g, '')
    const addresses = isIP(host) ? [host] : this.names.get(host)
    if (addresses === undefined) {
      void this.lookUp(host)
      return undefined
    }
    const port = url.port || (url.protocol === 'https:' ? '443' : '80')
    const peers = addresses.map((a) => (a.includes(':') ? `[${a}]:${port}` : `${a}:${port}`)).join(',') || undefined
    if (this.memo.size > 100_000) this.memo.clear()
    this.memo.set(origin, peers)
    return peers
  }

  /** Resolves again every host name these upstreams use (after services changed). */
  async refresh(upstreams: Iterable<string>): Promise<void> {
    const hosts = new Set<string>()
    for (const upstream of upstreams) {
      const host = new URL(upstream).hostname.replace(/^\[|\]$/g, '')
      if (!isIP(host)) hosts.add(host)
    }
    await Promise.all([...hosts].map((host) => this.lookUp(host, true)))
  }

  private lookUp(host: string, again = false): Promise<void> {
    const inFlight = this.resolving.get(host)
    if (inFlight && !again) return inFlight
    const done = this.resolve(host).then((addresses) => {
      this.names.set(host, addresses)
      this.memo.clear()
      if (this.resolving.get(host) === done) this.resolving.delete(host)
    })
    this.resolving.set(host, done)
    return done
  }
}

/** A host name's addresses, IPv4 first (tried in this order), or none when it does not resolve. */
export async function addressesOf(host: string): Promise<string[]> {
  try {
    const found = await lookup(host, { all: true })
    return [...new Set(found.sort((a, b) => a.family - b.family).map((a) => a.address))]
  } catch {
    return []
  }
}
