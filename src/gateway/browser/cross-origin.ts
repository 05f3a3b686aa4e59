import { header } from './navigation.js'

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS'])

/**
 * Why a request that a session cookie authenticates must be refused as another site's, or
 * undefined. SameSite=Lax already keeps the cookie from other sites' posts, frames and fetches,
 * but not from sibling services: every service's host is on the same site (hello.p.example.com
 * and evil.p.example.com), so a page on one could post to another with the person's cookie. So
 * every unsafe method, and every upgrade (WebSocket handshakes carry cookies and no preflight),
 * must come from the service's own origin: `Sec-Fetch-Site` same-origin (or none, the person's
 * own action) when the browser sends it, and `Origin`, when sent, exactly the service's origin.
 * Requests with neither header are not from a browser that would attach the cookie on its own.
 */
export function crossOriginProblem(method: string, rawHeaders: readonly string[], ownOrigin: string): string | undefined {
  const upgrade = header(rawHeaders, 'upgrade') !== undefined
  if (SAFE.has(method) && !upgrade) return undefined
  const site = header(rawHeaders, 'sec-fetch-site')?.trim().toLowerCase()
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    return `A ${upgrade ? 'WebSocket handshake' : `${method} request`} from another site (Sec-Fetch-Site: ${site.slice(0, 20)}) is not accepted with a browser session.`
  }
  const origin = header(rawHeaders, 'origin')?.trim()
  if (origin !== undefined && origin.toLowerCase() !== ownOrigin.toLowerCase()) {
    return `A ${upgrade ? 'WebSocket handshake' : `${method} request`} from another origin (${origin.slice(0, 100)}) is not accepted with a browser session.`
  }
  return undefined
}
