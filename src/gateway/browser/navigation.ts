/**
 * Whether a request is a browser opening a page (a top-level navigation), the one rule that sends
 * a caller without a token to sign in (302) rather than answering 401 with WWW-Authenticate:
 *
 * - only GET and HEAD (a form post cannot be replayed after signing in);
 * - a browser that sends Fetch Metadata says so itself: `Sec-Fetch-Mode: navigate` with
 *   `Sec-Fetch-Dest: document` (absent Dest counts as document); a fetch(), an image, an iframe
 *   or a WebSocket is not a navigation, whatever it accepts;
 * - otherwise (older browsers, hand-written clients) `Accept` must prefer text/html to anything
 *   else: listed with a q above 0, and above `*\/*`'s q or level with it and listed before it.
 *   curl's `Accept: *\/*` and an API client's `application/json` are not navigations.
 */
export function isNavigation(method: string, rawHeaders: readonly string[]): boolean {
  if (method !== 'GET' && method !== 'HEAD') return false
  const mode = header(rawHeaders, 'sec-fetch-mode')
  if (mode !== undefined) {
    const dest = header(rawHeaders, 'sec-fetch-dest')
    return mode.trim().toLowerCase() === 'navigate' && (dest === undefined || dest.trim().toLowerCase() === 'document')
  }
  return prefersHtml(header(rawHeaders, 'accept'))
}

/** Whether an Accept header prefers text/html (see isNavigation). */
export function prefersHtml(accept: string | undefined): boolean {
  if (!accept) return false
  let html: { q: number; at: number } | undefined
  let any: { q: number; at: number } | undefined
  const ranges = accept.split(',')
  for (let at = 0; at < ranges.length && at < 64; at++) {
    const [type, ...params] = ranges[at]!.split(';')
    const name = type!.trim().toLowerCase()
    let q = 1
    for (const p of params) {
      const m = /^\s*q\s*=\s*([01](?:\.\d{0,3})?)\s*$/i.exec(p)
      if (m) q = Number(m[1])
    }
    if (name === 'text/html' && !html) html = { q, at }
    else if (name === '*/*' && !any) any = { q, at }
  }
  if (!html || html.q <= 0) return false
  return !any || html.q > any.q || (html.q === any.q && html.at < any.at)
}

/** The first value of a header, by its lowercase name, from a raw [name, value, …] list. */
export function header(rawHeaders: readonly string[], lower: string): string | undefined {
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.length === lower.length && rawHeaders[i]!.toLowerCase() === lower) return rawHeaders[i + 1]
  }
  return undefined
}
