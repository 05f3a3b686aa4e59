import type { IncomingMessage, ServerResponse } from 'node:http'
import { checkAuthorizationRequest, redirectWith } from '../../identity/authorization-request.js'
import { PATHS } from '../../identity/endpoints.js'
import { issueAuthorizationCode } from '../../identity/grants/authorization-code.js'
import type { ControlDeps } from '../deps.js'
import { errorLine, page, redirect, sendOnward, sendPage } from '../../http/html-page.js'
import type { SessionAuth } from '../session-auth.js'
import { secretsEqual } from '../../core/ids.js'
import { askingConsent, consentPage, sentByAnotherPage } from '../pages/authorize-consent.js'
import { loginHintOf } from '../../identity/login-hint.js'

/** The consent form's answer (POST only): its CSRF token and the button pressed. */
export interface ConsentAnswer {
  csrfToken: string | null
  consent: string | null
}

/**
 * GET /oauth2/authorize (RFC 6749 §4.1.1, OIDC Core §3.1.2): check the request, then send the
 * browser to /signin unless it has a session, then back to the client with a one-time code —
 * after asking first when another page sent the browser here (pages/authorize-consent.ts).
 * The response carries `iss` (RFC 9207) so a client talking to several servers cannot be mixed up.
 */
export function authorizeEndpoint(deps: ControlDeps, sessions: SessionAuth) {
  return async (req: IncomingMessage, res: ServerResponse, query: URLSearchParams, rawQuery: string, answer?: ConsentAnswer): Promise<void> => {
    const checked = checkAuthorizationRequest(query)
    if (checked.kind === 'show') {
      sendPage(res, 400, page('Sign-in request refused', `<h1>This sign-in request cannot be served</h1>${errorLine(checked.message)}`))
      return
    }
    const iss = deps.settings.issuer
    if (checked.kind === 'redirect') {
      redirect(res, redirectWith(checked.redirectUri, { error: checked.error, error_description: checked.description, state: checked.state, iss }), {}, 302)
      return
    }
    const request = checked.request
    const session = await sessions.current(req)
    // prompt=login, or a session older than max_age: the user signs in again. Back from signing in,
    // the request comes without them (the new session is as fresh as they ask, and the ID token's
    // auth_time says so), or it would send the user to sign in again and again.
    const stale = session !== undefined && (request.promptLogin || (request.maxAgeSeconds !== undefined && deps.clock() - session.record.createTime > request.maxAgeSeconds * 1000))
    // login_hint (OIDC Core §3.1.2.1) naming another account than the session's: the user signs in
    // as the one the client asked for (`postern auth login ACCOUNT`), the form filled in with it.
    const hint = loginHintOf(query)
    const otherAccount = session !== undefined && hint !== undefined && hint !== session.email
    const fromAnotherPage = sentByAnotherPage(req.headers['sec-fetch-site'])
    if (!session || stale || otherAccount) {
      if (request.promptNone) {
        const why = !session ? 'No one is signed in.' : stale ? 'The session is older than max_age.' : 'Another account is signed in.'
        redirect(res, redirectWith(request.redirectUri, { error: 'login_required', error_description: why, state: request.state, iss }), {}, 302)
        return
      }
      const hinted = hint === undefined ? '' : `&login_hint=${encodeURIComponent(hint)}`
      let back = `${PATHS.authorize}?${withoutFreshness(query, rawQuery)}`
      // (The sign-in page, sent there by this page's sender, asks for the same; both, should a
      // browser count the redirect as this server's own.)
      if (fromAnotherPage || request.promptConsent) back = askingConsent(back)
      redirect(res, `${PATHS.signin}?return_to=${encodeURIComponent(back)}${hinted}`, {}, 302)
      return
    }
    const answered = answer?.csrfToken != null && secretsEqual(answer.csrfToken, session.record.csrfToken)
    if (answered && answer.consent === 'deny') {
      redirect(res, redirectWith(request.redirectUri, { error: 'access_denied', error_description: 'The user declined.', state: request.state, iss }), {}, 302)
      return
    }
    if (!answered && (fromAnotherPage || request.promptConsent)) {
      if (request.promptNone) {
        redirect(res, redirectWith(request.redirectUri, { error: 'consent_required', error_description: 'Another page sent this request: the user must confirm it.', state: request.state, iss }), {}, 302)
        return
      }
      sendPage(res, 200, consentPage({ email: session.email, redirectUri: request.redirectUri, query, csrfToken: session.record.csrfToken }))
      return
    }
    const code = await issueAuthorizationCode(deps.store, request, { subjectUid: session.record.subjectUid, authTime: session.record.createTime, now: deps.clock() })
    const back = redirectWith(request.redirectUri, { code, state: request.state, iss })
    // From the consent form: a redirect would be held to the page's form-action, which cannot name [::1].
    if (answered) sendOnward(res, back, `You are signed in as ${session.email}.`)
    else redirect(res, back, {}, 302)
  }
}

/**
 * The request's query without prompt, max_age and login_hint (as sent when it has none): back
 * from signing in, it is served for whoever signed in; the client checks the account it got.
 */
function withoutFreshness(query: URLSearchParams, rawQuery: string): string {
  if (!query.has('prompt') && !query.has('max_age') && !query.has('login_hint')) return rawQuery
  const back = new URLSearchParams(rawQuery)
  back.delete('prompt')
  back.delete('max_age')
  back.delete('login_hint')
  return back.toString()
}
