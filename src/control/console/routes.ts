import type { IncomingMessage, ServerResponse } from 'node:http'
import { PosternError, notFound } from '../../core/errors.js'
import { wantsHtml } from '../../http/accept.js'
import type { Router } from '../../http/router.js'
import type { Handler, RequestContext } from '../handler.js'
import type { ConsoleAsset, ConsoleAssets } from './assets.js'

/**
 * Headers on every console response (DESIGN §7). The app is built without inline script
 * or style, so the policy needs no 'unsafe-inline' and no nonce; frames and <base> are refused.
 */
export const CONSOLE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
})

/** One name per path segment of the app's client-side routes (the router takes letters only); the deepest is 5. */
const SEGMENT_NAMES = ['a', 'b', 'c', 'd', 'e', 'f']

/** The session cookie of the sign-in contract; under TLS it may carry the `__Host-` prefix. */
const SESSION_COOKIE = /(?:^|;\s*)(?:__Host-)?postern_session=[^;\s]/

/**
 * Serves the console at /console: hashed files under /console/assets/ with immutable caching,
 * anything else under /console as the app's index.html (client-side routes). A browser with no
 * session cookie at all is sent to /signin first; one whose session has expired finds out from
 * GET /v1/session and is sent there by the app.
 */
export function consoleRoutes(assets: ConsoleAssets) {
  const page: Handler = async (c) => {
    if (!assets) throw new PosternError('UNAVAILABLE', 'The console has not been built. Run `npm run build` (or `npm install`), then restart postern serve.', { headers: { ...CONSOLE_HEADERS } })
    if (!SESSION_COOKIE.test(c.req.headers.cookie ?? '')) {
      redirectToSignIn(c.req, c.res)
      return 'sent'
    }
    const index = assets.get('index.html')!
    send(c, index, 'no-cache')
    return 'sent'
  }

  const file = (pathOf: (c: RequestContext) => string): Handler => async (c) => {
    const path = pathOf(c)
    const asset = assets?.get(path)
    // A missing script must fail as a 404, never come back as index.html with a 200.
    if (!asset || path === 'index.html') throw notFound(`No console file '${path.slice(0, 200)}'.`)
    send(c, asset, asset.immutable ? 'public, max-age=31536000, immutable' : 'public, max-age=300')
    return 'sent'
  }

  // The control plane's own address, as `serve` prints it, opened in a browser: the console. A
  // program asking for anything but a page gets the 404 any unknown path gets.
  const home: Handler = async (c) => {
    if (!wantsHtml(c.req.headers.accept)) throw notFound('No such endpoint: GET /. The API is under /v1/, the console at /console.')
    c.res.writeHead(302, { ...CONSOLE_HEADERS, location: '/console', 'cache-control': 'no-store', 'content-length': 0 })
    c.res.end()
    return 'sent'
  }

  return (r: Router<Handler>): void => {
    for (const method of ['GET', 'HEAD']) {
      r.add(method, '/', home)
      r.add(method, '/console', page)
      r.add(method, '/console/', page)
      r.add(method, '/console/assets/{file}', file((c) => `assets/${c.params.file}`))
      r.add(method, '/console/favicon.svg', file(() => 'favicon.svg'))
      let template = '/console'
      for (const name of SEGMENT_NAMES) {
        template += `/{${name}}`
        r.add(method, template, page)
      }
    }
  }
}

function send(c: RequestContext, asset: ConsoleAsset, cacheControl: string): void {
  const gzip = asset.gzip && /\bgzip\b/.test(String(c.req.headers['accept-encoding'] ?? '')) ? asset.gzip : undefined
  const body = gzip ?? asset.body
  c.res.writeHead(200, {
    ...CONSOLE_HEADERS,
    'content-type': asset.contentType,
    'content-length': body.length,
    'cache-control': cacheControl,
    vary: 'Accept-Encoding',
    ...(gzip && { 'content-encoding': 'gzip' }),
  })
  c.res.end(c.req.method === 'HEAD' ? undefined : body)
}

function redirectToSignIn(req: IncomingMessage, res: ServerResponse): void {
  const here = (req.url ?? '/console').slice(0, 1000)
  const location = `/signin?return_to=${encodeURIComponent(here.startsWith('/console') ? here : '/console')}`
  res.writeHead(303, { ...CONSOLE_HEADERS, location, 'cache-control': 'no-store', 'content-length': 0 })
  res.end()
}
