/**
 * Where an identity provider's discovery document may send Postern. Its `jwks_uri` and
 * `token_endpoint` are fetched by Postern itself, so a hostile or compromised provider could aim
 * them at anything Postern can reach — its own loopback ports, the database, the internal
 * network — and read the outcome back from the error. They must therefore be on the issuer's own
 * origin: https and the issuer's host (and port); or, for an issuer that is itself a loopback
 * http URL, that very origin. The `authorization_endpoint` is only ever opened by the person's
 * browser, so https (or loopback http) is enough there.
 */

/**
 * Providers known to keep their keys and token endpoint on hosts of their own other than the
 * issuer's, so the rule above would shut them out. A closed list: the hosts are the operator's.
 */
const ALSO_SERVED_FROM: Readonly<Record<string, readonly string[]>> = {
  'accounts.google.com': ['www.googleapis.com', 'oauth2.googleapis.com'],
}

const LOOPBACK = new Set(['127.0.0.1', '[::1]', 'localhost'])

function parse(text: string): URL | undefined {
  try {
    const url = new URL(text)
    return url.username || url.password ? undefined : url
  } catch {
    return undefined
  }
}

/** Whether Postern may itself fetch `target` (keys, token endpoint) for the provider whose issuer is `issuer`. */
export function fetchableFromIssuer(issuer: string, target: string): boolean {
  const from = parse(issuer)
  const to = parse(target)
  if (!from || !to) return false
  if (from.protocol === 'http:') return LOOPBACK.has(from.hostname) && to.origin === from.origin
  if (from.protocol !== 'https:' || to.protocol !== 'https:') return false
  return to.host === from.host || (to.port === '' && from.port === '' && (ALSO_SERVED_FROM[from.hostname]?.includes(to.hostname) ?? false))
}

/** Whether a person's browser may be sent to `target` (the authorization endpoint). */
export function browserSafe(target: string): boolean {
  const url = parse(target)
  return url !== undefined && (url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK.has(url.hostname)))
}
