import type { IncomingMessage } from 'node:http'

/**
 * The peer's address for rate limits. X-Forwarded-For is not trusted: any client can write it,
 * and Postern has no setting naming a trusted proxy.
 */
export function clientAddress(req: IncomingMessage): string {
  const raw = req.socket.remoteAddress ?? 'unknown'
  return raw.startsWith('::ffff:') ? raw.slice(7) : raw
}
