import type { IncomingMessage, ServerResponse } from 'node:http'
import { PosternError } from '../../core/errors.js'
import { randomToken, secretsEqual } from '../../core/ids.js'
import { wantsHtml } from '../../http/accept.js'
import { readForm } from '../../http/body.js'
import { sendError } from '../../http/respond.js'
import { PATHS } from '../../identity/endpoints.js'
import { safeReturnTo } from '../../identity/return-to.js'
import { loginHintOf } from '../../identity/login-hint.js'
import { SESSION_TTL_MS, clearedCookie, endSession, readCookie, sessionCookie, sessionCookieName, startSession } from '../../identity/sessions.js'
import { signInWithPassword } from '../../identity/sign-in.js'
import { PASSWORD_RULES } from '../../identity/passwords.js'
import { normalizeEmail } from '../../iam/members.js'
import type { ControlDeps } from '../deps.js'
import type { SessionAuth } from '../session-auth.js'
import { requestClientAddress } from '../../http/client-address.js'
import { postedFromOwnOrigin } from '../../http/request-origin.js'
import { askingConsent, sentByAnotherPage } from './authorize-consent.js'
import { federatedLinks } from './federated-signin.js'
import { errorLine, escapeHtml, page, redirect, sendOnward, sendPage } from '../../http/html-page.js'

/**
 * GET/POST /signin (DESIGN §3). The form is protected against login CSRF (another site signing
 * the browser in to an account of its choosing) by a double-submit token: a SameSite=Strict
 * cookie set with the form and a hidden field that must match it. A browser keeps one token for
 * every form it is shown, so that two sign-in pages open at once (a service's and the console's,
 * a restored tab) can each be submitted: a new token per form left only the newest one valid.
 */
const FORM_COOKIE = 'postern_signin'
const FORM_TOKEN_BYTES = 24
const FORM_TOKEN = /^[A-Za-z0-9_-]{32}$/

function form(o: { returnTo: string; token: string; email?: string; error?: string; signedInAs?: string; federated: string }): string {
  return page('Sign in', `<h1>Sign in to Postern</h1>
${o.signedInAs ? `<p class="note">You are signed in as ${escapeHtml(o.signedInAs)}. Sign in again to switch accounts.</p>` : ''}${errorLine(o.error)}
<form method="post" action="${PATHS.signin}">
<input type="hidden" name="return_to" value="${escapeHtml(o.returnTo)}">
<input type="hidden" name="form_token" value="${escapeHtml(o.token)}">
<label for="email">Email</label>
<input id="email" name="email" type="email" autocomplete="username" required autofocus value="${escapeHtml(o.email ?? '')}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required maxlength="${PASSWORD_RULES.max}">
<button type="submit">Sign in</button>
</form>
${o.federated}`)
}

export function showSignIn(deps: ControlDeps, sessions: SessionAuth) {
  return async (req: IncomingMessage, res: ServerResponse, query: URLSearchParams): Promise<void> => {
    const active = await sessions.current(req)
    // Opened by another page (a link, or its authorization request sent here): a code the way
    // back leads to is asked for first, whichever way the person signs in.
    const returnTo = safeReturnTo(query.get('return_to'))
    renderForm(deps, req, res, 200, { returnTo: sentByAnotherPage(req.headers['sec-fetch-site']) ? askingConsent(returnTo) : returnTo, email: loginHintOf(query), signedInAs: active?.email })
  }
}

function renderForm(deps: ControlDeps, req: IncomingMessage, res: ServerResponse, status: number, o: { returnTo: string; email?: string; error?: string; signedInAs?: string }, headers: Record<string, string> = {}): void {
  const held = readCookie(req.headers.cookie, FORM_COOKIE)
  const token = held !== undefined && FORM_TOKEN.test(held) ? held : randomToken(FORM_TOKEN_BYTES)
  const cookie = `${FORM_COOKIE}=${token}; Path=${PATHS.signin}; HttpOnly; SameSite=Strict; Max-Age=3600${deps.settings.secureCookies ? '; Secure' : ''}`
  sendPage(res, status, form({ ...o, token, federated: federatedLinks(deps, o.returnTo) }), { ...headers, 'set-cookie': cookie })
}

export function submitSignIn(deps: ControlDeps) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const fields = await readForm(req)
    const returnTo = safeReturnTo(fields.get('return_to'))
    const email = fields.get('email') ?? ''
    const expected = readCookie(req.headers.cookie, FORM_COOKIE)
    const sent = fields.get('form_token')
    // A refusal: the form again with the reason for a browser, the one error shape for anyone
    // else, by the one Accept rule of every control-plane error (http/accept.ts), same status.
    const answerRefusal = (err: PosternError) => {
      if (wantsHtml(req.headers.accept)) renderForm(deps, req, res, err.httpCode, { returnTo, email, error: err.message }, err.headers)
      else sendError(res, err, req.headers.accept)
    }
    if (!postedFromOwnOrigin(req, deps.settings.issuer, deps.settings.trustedProxies) || !expected || !sent || !secretsEqual(expected, sent)) {
      answerRefusal(new PosternError('INVALID_ARGUMENT', 'The sign-in form expired or did not come from this site. Please try again.'))
      return
    }
    let result
    const address = requestClientAddress(req, deps.settings.trustedProxies)
    // A failed or refused sign-in goes to the audit log (counted per account and minute): nobody
    // was authenticated, so the principal is anonymous and the resource the account tried.
    const refused = (outcome: string) => {
      const account = normalizeEmail(email.trim())
      deps.refusals.record({ time: deps.clock(), principal: 'anonymous', method: 'signin', resource: account ? `users/${account}` : 'users/-', outcome, details: { address } })
    }
    try {
      result = await signInWithPassword(deps.store, { email, password: fields.get('password') ?? '', address, now: deps.clock() })
    } catch (err) {
      if (err instanceof PosternError && err.status === 'RESOURCE_EXHAUSTED') {
        refused('RESOURCE_EXHAUSTED')
        answerRefusal(err)
        return
      }
      if (storeUnavailable(err)) {
        answerRefusal(err)
        return
      }
      throw err
    }
    if (!result.ok) {
      refused('UNAUTHENTICATED')
      answerRefusal(new PosternError('UNAUTHENTICATED', result.message))
      return
    }
    let cookie: string
    try {
      // A new session on every sign-in (no session fixation); the one the browser had ends.
      await endSession(deps.store, readCookie(req.headers.cookie, sessionCookieName(deps.settings.secureCookies)))
      cookie = (await startSession(deps.store, result.uid, deps.clock())).cookie
      await deps.store.appendAudit({ time: deps.clock(), principal: `user:${result.email}`, method: 'signin', resource: `users/${result.email}`, outcome: 'OK', details: { address: requestClientAddress(req, deps.settings.trustedProxies) } })
    } catch (err) {
      if (storeUnavailable(err)) {
        answerRefusal(err)
        return
      }
      throw err
    }
    // (The form's cookie stays for its hour: another sign-in page still open may be submitted too.)
    const session = { 'set-cookie': sessionCookie(cookie, { secure: deps.settings.secureCookies, maxAgeSeconds: SESSION_TTL_MS / 1000 }) }
    // The redirects after this form's post are held to its CSP's form-action, which can name
    // 127.0.0.1 and localhost but no IPv6 address: a client waiting at [::1] is reached from a page.
    if (authorizesToIpv6Loopback(returnTo)) sendOnward(res, returnTo, `You are signed in as ${result.email}.`, session)
    else redirect(res, returnTo, session)
  }
}

/**
 * The store cannot be used (locked by another process, damaged, the disk full, unreachable): the
 * person at the form is told so on the form, to try again, rather than handed an error page.
 */
function storeUnavailable(err: unknown): err is PosternError {
  return err instanceof PosternError && err.status === 'UNAVAILABLE'
}

/** Whether `returnTo` is an authorization request whose client waits at http://[::1] (RFC 8252 §7.3). */
function authorizesToIpv6Loopback(returnTo: string): boolean {
  const url = new URL(returnTo, 'http://postern.invalid')
  if (url.pathname !== PATHS.authorize) return false
  try {
    return new URL(url.searchParams.get('redirect_uri') ?? '').hostname === '[::1]'
  } catch {
    return false
  }
}

/** POST /signout: from the console (X-CSRF-Token) or a form (csrf_token field, and where to go next in return_to). */
export function signOut(deps: ControlDeps, sessions: SessionAuth) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const active = await sessions.current(req)
    const isForm = /^application\/x-www-form-urlencoded/i.test(req.headers['content-type'] ?? '')
    const fields = isForm ? await readForm(req) : undefined
    const token = fields ? fields.get('csrf_token') : req.headers['x-csrf-token']
    if (active) {
      if (typeof token !== 'string' || !secretsEqual(token, active.record.csrfToken)) throw new PosternError('PERMISSION_DENIED', 'Sign-out needs the session’s CSRF token (X-CSRF-Token header or csrf_token field).')
      await endSession(deps.store, active.cookie)
    }
    // The cookie is cleared only when it came with the request (a session just ended, or one
    // already over). Another site's post never carries the SameSite=Strict cookie, and clearing
    // it in answer to one would let any page sign the browser out.
    const name = sessionCookieName(deps.settings.secureCookies)
    const cleared: Record<string, string> = readCookie(req.headers.cookie, name) === undefined ? {} : { 'set-cookie': clearedCookie(name, deps.settings.secureCookies) }
    // A form may say where to go next (/device's "Sign in as", to the sign-in form for that
    // account): a path on this origin only, as /signin's return_to.
    if (fields) redirect(res, fields.has('return_to') ? safeReturnTo(fields.get('return_to')) : PATHS.signin, cleared)
    else {
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...cleared })
      res.end('{}')
    }
  }
}

