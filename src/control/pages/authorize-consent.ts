import { escapeHtml, page } from '../../http/html-page.js'
import { PATHS } from '../../identity/endpoints.js'
import { FEDERATED_PATHS } from './federated-paths.js'

/**
 * The question asked before a code goes to a loopback program when the request came from another
 * page of the same site, or went to sign in from one (askingConsent). Browsers count every port of 127.0.0.1 as one site, so `SameSite=Strict`
 * sends the session cookie along when a page served on another port (a developer's app, through
 * `postern services proxy` too) sends the browser here; answered silently, that page's own
 * listener would get a code for the signed-in person, and with it their tokens. The question names
 * the program and the person, and its form goes back as a same-origin POST with the session's
 * CSRF token.
 */
export function consentPage(o: { email: string; redirectUri: string; query: URLSearchParams; csrfToken: string }): string {
  const fields = [...o.query].map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}">`).join('\n')
  return page('Sign in a program', `<h1>Sign in a program on this machine?</h1>
<p>A program listening at <code>${escapeHtml(o.redirectUri)}</code> asks to act as <strong>${escapeHtml(o.email)}</strong>. The request came from another page, not from a command you ran.</p>
<p>Continue only if you started this yourself (<code>postern auth login</code>, or a tool you trust): the program will be able to call services and the API as you.</p>
<form method="post" action="${PATHS.authorize}">
${fields}
<input type="hidden" name="csrf_token" value="${escapeHtml(o.csrfToken)}">
<button type="submit" name="consent" value="allow">Continue as ${escapeHtml(o.email)}</button>
<button type="submit" name="consent" value="deny" class="secondary">Cancel</button>
</form>`)
}

/**
 * The way back to an authorization request after signing in, asking consent (prompt=consent)
 * when another page sent the browser to sign in. Back from the sign-in form the browser comes
 * same-origin, so the question the request would have met with a session (the page that sent it
 * is no longer known) must travel with it: otherwise a page need only send a browser without a
 * session, or with prompt=login, to have the person sign in and the code go, unasked, to the
 * page's own listener. Any other path is returned as it is.
 */
export function askingConsent(returnTo: string): string {
  const url = new URL(returnTo, 'http://postern.invalid')
  if (url.pathname === PATHS.authorize) url.searchParams.set('prompt', 'consent')
  // A way back through another sign-in page (`/signin?return_to=/signin/federated?…`) is marked
  // where it leads: a same-origin hop must not wash the question off.
  else if (WAYS_THROUGH_SIGN_IN.has(url.pathname) && url.searchParams.has('return_to')) url.searchParams.set('return_to', askingConsent(url.searchParams.get('return_to')!))
  else return returnTo
  return url.pathname + url.search
}

/** The pages that send the browser on to a `return_to` once the person has signed in. */
const WAYS_THROUGH_SIGN_IN: ReadonlySet<string> = new Set([PATHS.signin, FEDERATED_PATHS.start])

/**
 * Whether the browser came from another page of the same site or another site (Fetch Metadata's
 * Sec-Fetch-Site). Opened by a program (the CLI) or from the address bar it says `none`; back
 * from Postern's own sign-in page, `same-origin`. A client that sends no such header is no
 * browser a page could steer.
 */
export function sentByAnotherPage(site: string | string[] | undefined): boolean {
  return site === 'same-site' || site === 'cross-site'
}
