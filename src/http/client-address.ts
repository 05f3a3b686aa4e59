import type { IncomingMessage } from 'node:http'
import { BlockList, isIP } from 'node:net'
import { BoundedCache } from '../core/bounded-cache.js'
import { invalid } from '../core/errors.js'

/**
 * Who the client is, for rate limits and logs. The peer of the TCP connection, unless that peer
 * is a proxy named in `--trusted-proxies`: then `X-Forwarded-For`, read from the right (each
 * proxy appends the address it saw), skipping trusted proxies; the first untrusted address is the
 * client (nginx's `real_ip_recursive on`). An address a client wrote itself sits further left and
 * is never reached, and a peer that is not a trusted proxy has its X-Forwarded-For ignored, since
 * anyone can send one. Pure apart from reading the request.
 */
export class TrustedProxies {
  private readonly list = new BlockList()
  /**
   * Answers already given, by address. BlockList.check makes a SocketAddress for every string it
   * is asked about (1.6 µs, 4% of a warm gateway request's CPU in a profile); the
   * addresses asked about are few (the peers, and the hops their X-Forwarded-For names), and an
   * address a client writes is asked about at most once a request, so a bounded cache keeps it.
   */
  private readonly answers = new BoundedCache<string, boolean>(1024)

  private constructor(readonly cidrs: readonly string[]) {
    for (const cidr of cidrs) {
      const [address, prefix] = cidr.split('/') as [string, string]
      const family = isIP(address) === 4 ? 'ipv4' : 'ipv6'
      this.list.addSubnet(address, Number(prefix), family)
    }
  }

  static readonly none = new TrustedProxies([])

  /** Parses `CIDR[,CIDR]` (a bare address is one host); INVALID_ARGUMENT names the bad entry. */
  static parse(text: string | undefined, flag = '--trusted-proxies'): TrustedProxies {
    if (text === undefined || text.trim() === '') return TrustedProxies.none
    const cidrs = text.split(',').map((part) => {
      const entry = part.trim()
      const [raw = '', prefix, ...rest] = entry.split('/')
      const address = canonicalAddress(raw)
      const family = address ? isIP(address) : 0
      const max = family === 4 ? 32 : 128
      const bits = prefix === undefined ? max : /^\d{1,3}$/.test(prefix) ? Number(prefix) : NaN
      if (!address || rest.length || !(bits >= 0 && bits <= max)) {
        throw invalid(`${flag}: '${entry}' is not an IP address or CIDR range (e.g. 10.0.0.0/8, 192.0.2.7, fd00::/8).`)
      }
      return `${address}/${bits}`
    })
    return new TrustedProxies(Object.freeze(cidrs))
  }

  has(address: string): boolean {
    if (this.cidrs.length === 0) return false
    let answer = this.answers.get(address)
    if (answer === undefined) {
      const family = isIP(address)
      answer = family !== 0 && this.list.check(address, family === 4 ? 'ipv4' : 'ipv6')
      this.answers.set(address, answer)
    }
    return answer
  }
}

/** X-Forwarded-For hops read before giving up: a longer chain of trusted proxies is not plausible. */
const MAX_HOPS = 20

export function clientAddress(peer: string | undefined, forwardedFor: string | readonly string[] | undefined, trusted: TrustedProxies): string {
  return forwardedChain(peer, forwardedFor, trusted)[0]!
}

/**
 * The chain of addresses a request came through that Postern can vouch for, client first and the
 * peer last: the trusted proxies' hops and the client they name, never what a client wrote
 * itself (anything left of the first untrusted address). Behind no trusted proxy: the peer alone.
 */
export function forwardedChain(peer: string | undefined, forwardedFor: string | readonly string[] | undefined, trusted: TrustedProxies): string[] {
  const chain = [canonicalAddress(peer ?? '') ?? 'unknown']
  if (!trusted.has(chain[0]!) || forwardedFor === undefined) return chain
  const hops = (typeof forwardedFor === 'string' ? forwardedFor : forwardedFor.join(',')).split(',')
  for (let i = hops.length - 1, seen = 0; i >= 0 && seen < MAX_HOPS; i--, seen++) {
    const hop = hops[i]!.trim()
    if (hop === '') continue
    const address = canonicalAddress(hop)
    // Garbage where an address should be: the trusted proxy that passed it on is all we know.
    if (!address) return chain
    chain.unshift(address)
    if (!trusted.has(address)) return chain
  }
  return chain
}

/** The client address of a request (see clientAddress). */
export function requestClientAddress(req: IncomingMessage, trusted: TrustedProxies): string {
  return clientAddress(req.socket.remoteAddress, req.headers['x-forwarded-for'], trusted)
}

/**
 * The key that rate limits count an address under: the address itself for IPv4, its /64 for
 * IPv6, since a single IPv6 subscriber usually holds a whole /64 and could otherwise use a new
 * address for every attempt.
 */
export function addressBucket(address: string): string {
  if (isIP(address) !== 6) return address
  const groups = expandIpv6(address)
  return groups ? `${groups.slice(0, 4).join(':')}::/64` : address
}

/** An address in one canonical text form (IPv4-mapped IPv6 as IPv4, lowercase), or undefined. */
export function canonicalAddress(raw: string): string | undefined {
  let s = raw.trim()
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(s)
  if (bracketed) s = bracketed[1]!
  else {
    const withPort = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/.exec(s)
    if (withPort) s = withPort[1]!
  }
  s = s.toLowerCase()
  if (s.startsWith('::ffff:') && isIP(s.slice(7)) === 4) s = s.slice(7)
  const family = isIP(s)
  if (family === 4) return s
  if (family === 6) {
    const groups = expandIpv6(s)
    return groups ? compressIpv6(groups) : undefined
  }
  return undefined
}

function expandIpv6(address: string): string[] | undefined {
  let text = address
  // A trailing dotted quad (::ffff:1.2.3.4, 64:ff9b::1.2.3.4) as two groups.
  const quad = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text)
  if (quad) {
    const [a, b, c, d] = quad.slice(1).map(Number) as [number, number, number, number]
    text = `${text.slice(0, quad.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const [head = '', tail, ...more] = text.split('::')
  if (more.length) return undefined
  const left = head ? head.split(':') : []
  const right = tail ? tail.split(':') : []
  const missing = 8 - left.length - right.length
  if (tail === undefined ? missing !== 0 : missing < 1) return undefined
  const groups = [...left, ...Array<string>(tail === undefined ? 0 : missing).fill('0'), ...right]
  return groups.every((g) => /^[0-9a-f]{1,4}$/.test(g)) ? groups.map((g) => String(parseInt(g, 16).toString(16))) : undefined
}

/** RFC 5952 text: the longest run of two or more zero groups becomes '::'. */
function compressIpv6(groups: string[]): string {
  let best = -1
  let bestLength = 1
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === '0') j++
    if (j - i > bestLength) {
      best = i
      bestLength = j - i
    }
    i = j
  }
  if (best < 0) return groups.join(':')
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLength).join(':')}`
}
