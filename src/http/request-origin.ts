import type { IncomingMessage } from 'node:http'
import type { TLSSocket } from 'node:tls'
import { canonicalAddress, type TrustedProxies } from './client-address.js'

/**
 * The scheme a browser used to reach this request: https over TLS here, or as a trusted proxy in
 * front says (X-Forwarded-Proto, its first value); else http. A client's own X-Forwarded-Proto
 * counts for nothing.
 */
export function requestScheme(req: IncomingMessage, trusted: TrustedProxies): 'http:' | 'https:' {
  if ((req.socket as TLSSocket).encrypted) return 'https:'
  const peer = canonicalAddress(req.socket.remoteAddress ?? '')
  const said = req.headers['x-forwarded-proto']
  if (peer === undefined || !trusted.has(peer) || typeof said !== 'string') return 'http:'
  return said.split(',', 1)[0]!.trim().toLowerCase() === 'https' ? 'https:' : 'http:'
}

/**
 * Whether a form post comes from this server's own pages: its Origin is `publicOrigin` (the
 * issuer's, what a proxy in front serves), or the scheme, host and port the request itself was
 * made with (a browser that reached this server by another name). Compared whole, scheme
 * included: behind a proxy that drops the port from Host, a host alone would let a page served
 * over plain http on the same name post as the https one. A post without Origin is taken only
 * when the browser does not say it came from another site (Sec-Fetch-Site).
 */
export function postedFromOwnOrigin(req: IncomingMessage, publicOrigin: string, trusted: TrustedProxies): boolean {
  const origin = req.headers.origin
  if (origin === undefined) {
    const site = req.headers['sec-fetch-site']
    return site === undefined || site === 'same-origin' || site === 'none'
  }
  try {
    const sent = new URL(origin)
    if (sent.origin === new URL(publicOrigin).origin) return true
    return sent.protocol === requestScheme(req, trusted) && sent.host === req.headers.host
  } catch {
    return false
  }
}
