import { createHash } from 'node:crypto'
import type { ServerResponse } from 'node:http'
import { SECURITY_HEADERS, escapeHtml } from './respond.js'

/**
 * The server-rendered pages (/signin, /device): no script at all, one stylesheet allowed by its
 * hash. form-action also names the loopback origins because browsers apply it to the redirects
 * that follow a form post, and signing in for the CLI ends in a redirect to its loopback
 * listener (CSP cannot name [::1]; the CLI uses 127.0.0.1).
 */
const STYLE = `body{font:16px/1.5 system-ui,sans-serif;max-width:26rem;margin:4rem auto;padding:0 1rem;color:#202124}
h1{font-size:1.5rem;font-weight:500}label{display:block;margin-top:1rem;font-weight:500}
input{display:block;width:100%;box-sizing:border-box;padding:.5rem;font:inherit;margin-top:.25rem;border:1px solid #888;border-radius:4px}
button{margin-top:1.25rem;margin-right:.5rem;padding:.5rem 1.25rem;font:inherit;border-radius:4px;border:1px solid #1a73e8;background:#1a73e8;color:#fff;cursor:pointer}
button.secondary,a.button.secondary{background:#fff;color:#1a73e8}
a.button{display:block;margin-top:.75rem;padding:.5rem 1.25rem;border-radius:4px;border:1px solid #1a73e8;text-align:center;text-decoration:none}.error{color:#b00020;font-weight:500}.note{color:#555}.warning{border-left:4px solid #e37400;padding-left:.75rem}code{background:#f1f3f4;padding:.1rem .3rem}`

const STYLE_HASH = createHash('sha256').update(STYLE).digest('base64')

export const PAGE_CSP = [
  "default-src 'none'",
  `style-src 'sha256-${STYLE_HASH}'`,
  "form-action 'self' http://127.0.0.1:* http://localhost:*",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ')

export { escapeHtml }

export function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} – Postern</title><style>${STYLE}</style></head>
<body><main>
${body}
</main></body></html>
`
}

export function sendPage(res: ServerResponse, status: number, html: string, headers: Record<string, string | string[]> = {}): void {
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(html),
    'content-security-policy': PAGE_CSP,
    'x-frame-options': 'DENY',
    // Not no-referrer: under it browsers send `Origin: null` with the form posts, which
    // /signin checks; same-origin still sends nothing to any other site.
    'referrer-policy': 'same-origin',
    ...headers,
  })
  res.end(html)
}

export function redirect(res: ServerResponse, location: string, headers: Record<string, string | string[]> = {}, status = 303): void {
  res.writeHead(status, { ...SECURITY_HEADERS, location, 'content-length': 0, ...headers })
  res.end()
}

/**
 * A signed-in page that sends the browser on to `location` itself (a refresh, and a link), where a
 * redirect would not do: the navigation it starts is the page's own, so neither a form's
 * `form-action` rule (which follows a form post's redirects) nor a cross-site arrival (which keeps
 * a SameSite=Strict cookie off the redirects that continue it) stands in the way.
 */
export function sendOnward(res: ServerResponse, location: string, message: string, headers: Record<string, string | string[]> = {}): void {
  sendPage(res, 200, page('Signed in', `<meta http-equiv="refresh" content="0;url=${escapeHtml(location)}">
<h1>Signed in</h1><p>${escapeHtml(message)} <a href="${escapeHtml(location)}">Continue</a></p>`), headers)
}

export const errorLine = (message: string | undefined) => (message ? `<p class="error" role="alert">${escapeHtml(message)}</p>` : '')
