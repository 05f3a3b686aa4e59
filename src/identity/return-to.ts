/**
 * Where /signin may send the browser afterwards: a path on this origin only, so the page can
 * never be used as an open redirect (`//evil.example`, `/\evil.example` and `https://…` are all
 * refused, as is anything a browser would reinterpret). The path is normalised before it is
 * returned, and normalising can make a safe-looking path unsafe (`/.//evil.example` becomes
 * `//evil.example`, a link to another host), so the rules are checked on what is returned, not
 * only on what came in.
 */
export const DEFAULT_RETURN_TO = '/console'

/** A path a browser resolves on this origin: one leading slash, no backslash, no control characters or spaces. */
function isSameOriginPath(path: string): boolean {
  // eslint-disable-next-line no-control-regex -- refusing control characters is the point
  return path.startsWith('/') && !path.startsWith('//') && !/[\x00-\x20\\\x7f]/.test(path)
}

export function safeReturnTo(raw: string | null | undefined): string {
  if (!raw || raw.length > 4096 || !isSameOriginPath(raw)) return DEFAULT_RETURN_TO
  // Resolve against a sentinel origin: a relative path must stay on it.
  let url: URL
  try {
    url = new URL(raw, 'http://postern.invalid')
  } catch {
    return DEFAULT_RETURN_TO
  }
  if (url.origin !== 'http://postern.invalid') return DEFAULT_RETURN_TO
  const path = url.pathname + url.search
  return isSameOriginPath(path) ? path : DEFAULT_RETURN_TO
}
