import type { ErrorStatus } from '../../core/errors.js'
import { randomToken, secretsEqual, sha256 } from '../../core/ids.js'
import type { Verdict } from '../../observability/metrics.js'
import type { Store } from '../../store/store.js'
import type { Answer } from '../answer.js'
import type { Caller } from '../authenticate.js'
import { CHALLENGE } from '../responses.js'
import type { Route } from '../routes.js'
import type { BrowserSessions, SessionCheck } from './browser-sessions.js'
import { clearCookie, cookieValues, oneCookie, setCookie, type BrowserCookies } from './cookies.js'
import { crossOriginProblem } from './cross-origin.js'
import { header, isNavigation } from './navigation.js'
import { confirmSignOutPage, deniedPage, signInFailedPage, signedOutPage } from './pages.js'
import { returnPathOf, type PosternEndpoint } from '../../http/postern-paths.js'

/** The request as the browser flow sees it (the gateway's own, or one that forward-auth describes). */
export interface BrowserRequest {
  method: string
  host: string
  /** The request target in origin-form: path and query. */
  path: string
  rawHeaders: readonly string[]
}

/** A request refused or answered by the flow; `answer`, when present, is sent instead of the error in the one shape. */
export interface Refusal {
  status: ErrorStatus
  message: string
  headers?: Record<string, string>
  answer?: Answer
  verdict: Verdict
}

export type BrowserIdentity = { ok: true; caller: Caller; sessionHash: string } | ({ ok: false } & Refusal)

export interface BrowserFlowDeps {
  sessions: BrowserSessions
  store: Store
  cookies: BrowserCookies
  /** The control plane's page that turns a sign-in into a one-time code for a service (issuer + /signin/service). */
  signInUrl: string
}

const STATE = /^[A-Za-z0-9_-]{43}$/
const FLOW_TTL_S = 600
const MAX_CODE = 100

/**
 * The browser flow on a service's host (the identity-aware-proxy pattern), as decisions: a
 * navigation without a session is sent to Postern's sign-in with a fresh state whose secret stays
 * in a cookie on this host; the control plane sends the browser back to /_postern/callback with a
 * one-time code bound to this service, the path and that state; the gateway redeems it server
 * side and sets the session cookie. From then on the cookie says who is asking and IAM decides,
 * as for a token. Every answer is data (an Answer), so any data plane can give it.
 */
export function createBrowserFlow(deps: BrowserFlowDeps) {
  const { cookies } = deps

  /**
   * The service's own origin, as a browser writes it in Origin: its URL's (from --gateway-url),
   * where sign-in always brings the browser back. Not one built from the Host header: a proxy in
   * front may rewrite that (nginx's common `proxy_set_header Host $host` drops the port), and the
   * browser's own same-origin WebSocket or POST would then be refused. Routing ignores the port.
   */
  const ownOrigin = (route: Route) => route.uri

  /** 302 to sign in, with this flow's state cookie; `clearSession` also drops a cookie that no longer works. */
  function toSignIn(route: Route, next: string, o: { prompt?: boolean; clearSession?: boolean } = {}): Answer {
    const secret = randomToken(32)
    const state = sha256(secret)
    const location = `${deps.signInUrl}?return_to=${encodeURIComponent(route.uri + next)}&state=${state}${o.prompt ? '&prompt=login' : ''}`
    const setCookies = [setCookie(cookies.state(state), secret, cookies.secure, FLOW_TTL_S)]
    if (o.clearSession) setCookies.push(clearCookie(cookies.session, cookies.secure))
    return { status: 302, headers: { location, 'set-cookie': setCookies, 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' }, body: '' }
  }

  function withoutSession(route: Route, req: BrowserRequest, why: string | undefined, stale: boolean): BrowserIdentity {
    if (isNavigation(req.method, req.rawHeaders)) {
      return { ok: false, status: 'UNAUTHENTICATED', message: 'Sign-in required.', verdict: 'unauthenticated', answer: toSignIn(route, returnPathOf(req.path) ?? '/', { clearSession: stale }) }
    }
    return {
      ok: false,
      status: 'UNAUTHENTICATED',
      message: `${why ? `${why} ` : ''}Authentication required: send an ID token (Authorization: Bearer $(postern auth print-identity-token)) to ${route.uri}, or open it in a browser to sign in.`,
      headers: { 'www-authenticate': CHALLENGE, ...(stale && { 'set-cookie': clearCookie(cookies.session, cookies.secure) }) },
      verdict: 'unauthenticated',
    }
  }

  function admitted(route: Route, req: BrowserRequest, checked: SessionCheck): BrowserIdentity {
    if (!checked.ok) {
      if (checked.reason === 'unavailable') return { ok: false, status: 'UNAVAILABLE', message: checked.description, headers: { 'retry-after': '5' }, verdict: 'unavailable' }
      return withoutSession(route, req, checked.description, true)
    }
    const problem = crossOriginProblem(req.method, req.rawHeaders, ownOrigin(route))
    if (problem) return { ok: false, status: 'PERMISSION_DENIED', message: problem, verdict: 'denied' }
    return checked
  }

  async function callback(route: Route, req: BrowserRequest, query: URLSearchParams, now: number): Promise<Refusal> {
    const code = query.get('code') ?? ''
    const state = query.get('state') ?? ''
    const fail = (status: number, message: string): Refusal => ({
      status: status === 401 ? 'UNAUTHENTICATED' : 'INVALID_ARGUMENT',
      message,
      verdict: 'sign_in',
      answer: signInFailedPage(status, message, '/', STATE.test(state) ? { 'set-cookie': clearCookie(cookies.state(state), cookies.secure) } : {}),
    })
    if (!code || code.length > MAX_CODE || !STATE.test(state)) return fail(400, 'This sign-in response is incomplete or malformed.')
    // The flow's secret must be in this browser: a code for someone else's sign-in, planted in a
    // link, finds no matching state cookie here (login CSRF, RFC 6749 §10.12).
    const secret = oneCookie(req.rawHeaders, cookies.state(state))
    if (!secret || !secretsEqual(sha256(secret), state)) return fail(400, 'This sign-in did not start in this browser, or took longer than 10 minutes. Start again.')
    const record = await deps.store.redeemServiceSignInCode(sha256(code), now)
    if (!record) return fail(400, 'This sign-in link was already used or has expired. Start again.')
    if (record.serviceUid !== route.service.uid || !secretsEqual(record.state, state)) return fail(400, 'This sign-in was made for another service or another sign-in. Start again.')
    const started = await deps.sessions.start({ signInSessionHash: record.signInSessionHash, subjectUid: record.subjectUid, serviceUid: route.service.uid, now })
    if (!started) return fail(401, 'Your Postern sign-in ended before this service could be opened. Sign in again.')
    const location = returnPathOf(record.returnPath) ?? '/'
    return {
      status: 'UNAUTHENTICATED',
      message: 'Signed in.',
      verdict: 'sign_in',
      answer: {
        status: 302,
        headers: {
          location,
          'set-cookie': [setCookie(cookies.session, started.cookie, cookies.secure, (started.expireTime - now) / 1000), clearCookie(cookies.state(state), cookies.secure)],
          'cache-control': 'no-store',
          'referrer-policy': 'no-referrer',
        },
        body: '',
      },
    }
  }

  async function signOut(route: Route, req: BrowserRequest): Promise<Refusal> {
    if (req.method === 'GET') {
      // Typed, bookmarked or clicked on this service: at once. From another site: ask first.
      const site = header(req.rawHeaders, 'sec-fetch-site')?.trim().toLowerCase()
      if (site !== undefined && site !== 'same-origin' && site !== 'none') return { status: 'UNAUTHENTICATED', message: 'Confirm signing out.', verdict: 'sign_in', answer: confirmSignOutPage() }
    } else if (req.method === 'POST') {
      const problem = crossOriginProblem(req.method, req.rawHeaders, ownOrigin(route))
      if (problem) return { status: 'PERMISSION_DENIED', message: problem, verdict: 'denied' }
    } else {
      return { status: 'METHOD_NOT_ALLOWED', message: 'Sign out with GET or POST.', headers: { allow: 'GET, POST' }, verdict: 'bad_request' }
    }
    // Every session cookie this browser sent ends (a planted second one included).
    for (const cookie of cookieValues(req.rawHeaders, cookies.session)) await deps.sessions.end(cookie)
    return { status: 'UNAUTHENTICATED', message: 'Signed out.', verdict: 'sign_in', answer: signedOutPage(route, { 'set-cookie': clearCookie(cookies.session, cookies.secure) }) }
  }

  return {
    /** Who a request without a token is, by its session cookie on this service; or why not, with the answer to give. */
    identify(route: Route, req: BrowserRequest, now: number): BrowserIdentity | Promise<BrowserIdentity> {
      const values = cookieValues(req.rawHeaders, cookies.session)
      if (values.length === 0) return withoutSession(route, req, undefined, false)
      if (values.length > 1 || !values[0]) return withoutSession(route, req, 'More than one Postern session cookie was sent.', true)
      const checked = deps.sessions.check(values[0], route.service.uid, now)
      return checked instanceof Promise ? checked.then((c) => admitted(route, req, c)) : admitted(route, req, checked)
    },

    /** The answer for one of Postern's own paths on a service's host (postern-paths.ts). */
    async endpoint(kind: PosternEndpoint, route: Route, req: BrowserRequest, now: number): Promise<Refusal> {
      const q = req.path.indexOf('?')
      const query = new URLSearchParams(q < 0 ? '' : req.path.slice(q + 1))
      if (kind === 'unknown') return { status: 'NOT_FOUND', message: `${req.path.split('?')[0]!.slice(0, 200)} is reserved for Postern on every service's host; there is nothing there.`, verdict: 'not_found' }
      if (kind === 'signout') return signOut(route, req)
      if (!route.service.browserAccess) {
        const { projectId, serviceId } = route.service
        return { status: 'FAILED_PRECONDITION', message: `Browser sign-in is turned off for ${route.resource}; an admin can turn it on: postern services update ${serviceId} --project=${projectId} --browser-access=on`, verdict: 'sign_in' }
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') return { status: 'METHOD_NOT_ALLOWED', message: 'Use GET.', headers: { allow: 'GET' }, verdict: 'bad_request' }
      if (kind === 'callback') return callback(route, req, query, now)
      // /_postern/signin?next=PATH[&prompt=login]: sign in (again, as someone else with prompt=login).
      return { status: 'UNAUTHENTICATED', message: 'Sign-in required.', verdict: 'sign_in', answer: toSignIn(route, returnPathOf(query.get('next')) ?? '/', { prompt: query.get('prompt') === 'login' }) }
    },

    /** The page for a signed-in person without the invoker role, when they open the service. */
    deniedAnswer(caller: Caller, route: Route, req: BrowserRequest): Answer | undefined {
      return isNavigation(req.method, req.rawHeaders) ? deniedPage({ member: caller.member, route, path: returnPathOf(req.path) ?? '/' }) : undefined
    },
  }
}

export type BrowserFlow = ReturnType<typeof createBrowserFlow>
