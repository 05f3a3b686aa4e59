/**
 * Where /signin may send the browser afterwards: a path on this origin only, so the page can
 * never be used as an open redirect (`//evil.example`, `/\evil.example` and `https://…` are all
 * refused, as is anything a browser would reinterpret).
 */
export const DEFAULT_RETURN_TO = '/console'

export function safeReturnTo(raw: string | null | undefined): string {
  if (!raw || raw.length > 4096) return DEFAULT_RETURN_TO
  if (!raw.startsWith('/') || raw.startsWith('//') || raw.startsWith('/\\')) return DEFAULT_RETURN_TO
  // eslint-disable-next-line no-control-regex -- refusing control characters is the point
  if (/[\x00-\x20\\\x7f]/.test(raw)) return DEFAULT_RETURN_TO
  // Resolve against a sentinel origin: a relative path must stay on it.
  let url: URL
  try {
    url = new URL(raw, 'http://postern.invalid')
  } catch {
    return DEFAULT_RETURN_TO
  }
  if (url.origin !== 'http://postern.invalid') return DEFAULT_RETURN_TO
  return url.pathname + url.search
}
