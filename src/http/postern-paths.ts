/**
 * Paths on every service's host that belong to Postern, not to the service: the gateway answers
 * them and never forwards them (the one-time code on the callback must not reach the upstream).
 */
export const POSTERN_PATHS = {
  prefix: '/_postern',
  /** Redeems the one-time code the control plane sends the browser back with. */
  callback: '/_postern/callback',
  /** Ends the browser's Postern session (everywhere). */
  signout: '/_postern/signout',
  /** Starts signing in (again): `?next=PATH`, `&prompt=login` to choose another account. */
  signin: '/_postern/signin',
} as const

export type PosternEndpoint = 'callback' | 'signout' | 'signin' | 'unknown'

/**
 * Which Postern endpoint a request target names, or undefined when it is the service's. The
 * endpoints answer only their exact path; anything else that an upstream could read as being
 * under /_postern — any case, percent-encoded, with `;params`, `\`, repeated slashes or dot
 * segments — is Postern's too and answered 404, so no spelling of it reaches the upstream.
 */
export function posternEndpoint(target: string): PosternEndpoint | undefined {
  const q = target.indexOf('?')
  const path = q < 0 ? target : target.slice(0, q)
  if (path === POSTERN_PATHS.callback) return 'callback'
  if (path === POSTERN_PATHS.signout) return 'signout'
  if (path === POSTERN_PATHS.signin) return 'signin'
  // Cheap test first: every spelling of "_postern" holds "postern" or an encoded letter of it.
  if (!/postern|%/i.test(path)) return undefined
  const normal = normalisedPath(path)
  return normal === POSTERN_PATHS.prefix || normal.startsWith(POSTERN_PATHS.prefix + '/') ? 'unknown' : undefined
}

/** The path as the most lenient server would read it: decoded, lowercase, `\` as `/`, no `;params`, no empty or dot segments. */
function normalisedPath(path: string): string {
  let decoded = path
  // Twice: a server that decodes once more than we expect reads %255F as _.
  for (let i = 0; i < 2; i++) {
    try {
      decoded = decodeURIComponent(decoded)
    } catch {
      break
    }
  }
  const out: string[] = []
  for (const raw of decoded.toLowerCase().replaceAll('\\', '/').split('/')) {
    const segment = raw.split(';')[0]!.trim()
    if (segment === '' || segment === '.') continue
    if (segment === '..') out.pop()
    else out.push(segment)
  }
  return '/' + out.join('/')
}

/**
 * Longer paths are not returned to (the browser lands on `/`): the path travels, encoded twice,
 * inside the sign-in page's own return address, which is bounded.
 */
const MAX_RETURN = 1024

/**
 * Where a browser may be sent back to on a service's host after signing in: a path (with its
 * query) on that host, exactly as it was asked for, or undefined. Never anything a browser would
 * read as another host — `//evil.example`, `/\evil.example`, an absolute URL, control characters
 * or spaces a browser strips or turns into slashes — and never one of Postern's own paths.
 */
export function returnPathOf(raw: string | null | undefined): string | undefined {
  if (!raw || raw.length > MAX_RETURN || raw[0] !== '/' || raw[1] === '/' || raw[1] === '\\') return undefined
  // Visible ASCII only (RFC 3986 characters and a few more), and no backslash anywhere.
  if (!/^[\x21-\x7e]+$/.test(raw) || raw.includes('\\') || raw.includes('#')) return undefined
  let url: URL
  try {
    url = new URL(raw, 'http://postern.invalid')
  } catch {
    return undefined
  }
  if (url.origin !== 'http://postern.invalid') return undefined
  if (posternEndpoint(raw) !== undefined) return undefined
  return raw
}
