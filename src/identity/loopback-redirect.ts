/**
 * Redirect URIs of the native client `postern-cli` (RFC 8252): only the loopback interface over
 * http, any port (§7.3: the port is chosen at run time), no fragment (RFC 6749 §3.1.2), no
 * credentials. `localhost` is accepted as many native clients use it, though §8.3 prefers IPs.
 */
const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost'])

export function isLoopbackRedirect(raw: string): boolean {
  if (raw.length > 2048) return false
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    return false
  }
  // The URL parser normalises; a URI that does not survive it unchanged (apart from an added
  // trailing '/') is refused, so the comparison at the token endpoint is on one spelling.
  if (url.href !== raw && url.href !== raw + '/') return false
  return url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname) && !url.username && !url.password && !url.hash && !raw.includes('#')
}
