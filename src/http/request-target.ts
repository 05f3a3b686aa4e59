/**
 * A request's target as every plane reads it (RFC 9112 §3.2): shared by the gateway, which
 * forwards it, and the control plane, which routes on it.
 */
export type ShapeProblem = {
  status: 'INVALID_ARGUMENT' | 'REQUEST_HEADER_FIELDS_TOO_LARGE' | 'METHOD_NOT_ALLOWED'
  message: string
  /** Where the request's body ends is in doubt: nothing more may be read from its connection (what follows could be read as requests). */
  framingInDoubt?: true
}

export const NO_HOST = 'The request has no Host header.'

const ABSOLUTE = /^(https?):\/\/([^/?#]*)([^#]*)/i
const withoutDefaultPort = (authority: string) => authority.toLowerCase().replace(/:(80|443)$/, '')

/**
 * The request target in origin-form, which is all an upstream is sent (RFC 9112 §3.2):
 * - origin-form (`/path?query`) as sent, byte for byte, less any fragment (clients never send
 *   one; it is not part of the target);
 * - absolute-form (`http://host/path`) rewritten to origin-form when its authority is the Host
 *   header's, and refused when it names another: RFC 9112 §3.2.2 has a server route by the
 *   target's authority, a proxy by Host, so two hops could read such a request two ways — and
 *   the upstream would see an authority that was not the one routed on;
 * - `OPTIONS *` and every other form refused: the gateway answers only for its services;
 * - a path whose dot segments climb above its root refused (climbsAboveRoot).
 */
export function originFormTarget(target: string, host: string): { target: string } | { problem: ShapeProblem } {
  if (target.startsWith('/')) {
    const hash = target.indexOf('#')
    return checkedPath(hash < 0 ? target : target.slice(0, hash))
  }
  if (target === '*') return { problem: { status: 'INVALID_ARGUMENT', message: 'The request target * asks for the server as a whole; the gateway answers only for a service’s URL.' } }
  const m = ABSOLUTE.exec(target)
  if (!m) return { problem: { status: 'INVALID_ARGUMENT', message: 'The request target must be a path (origin-form) or an absolute http(s) URL.' } }
  // (HTTP/1.0 needs no Host; Postern does, to route, on both planes.)
  if (host === '') return { problem: { status: 'INVALID_ARGUMENT', message: NO_HOST } }
  if (m[2]!.includes('@') || withoutDefaultPort(m[2]!) !== withoutDefaultPort(host)) {
    return { problem: { status: 'INVALID_ARGUMENT', message: 'The request target names another host than the Host header.' } }
  }
  const rest = m[3]!
  return checkedPath(rest.startsWith('/') ? rest : `/${rest}`)
}

function checkedPath(target: string): { target: string } | { problem: ShapeProblem } {
  if (climbsAboveRoot(target)) return { problem: { status: 'INVALID_ARGUMENT', message: 'The request path climbs above its root (a ".." segment).' } }
  return { target }
}

/**
 * Whether an origin-form target's path climbs above "/" as an upstream may read it: its
 * percent-encoding decoded, a backslash read as "/" (as WHATWG URL parsers do), a segment's ";"
 * parameters ignored (as Java servlet containers do). An upstream is sent the service's base
 * path and then the target as it came, so `/../admin` would reach `/admin` beside the base path,
 * outside what the service's policy guards. (nginx refuses such a path itself.)
 */
export function climbsAboveRoot(target: string): boolean {
  const query = target.indexOf('?')
  const path = query < 0 ? target : target.slice(0, query)
  if (!path.includes('.') && !/%2e/i.test(path)) return false
  const decoded = path.replace(/%([0-9a-f]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)))
  let depth = 0
  for (const part of decoded.split(/[/\\]/).slice(1)) {
    const segment = part.split(';')[0]
    if (segment === '..') {
      if (--depth < 0) return true
    } else if (segment !== '.' && segment !== '') depth++
  }
  return false
}
