import { PAGE_CSP, escapeHtml, page } from '../../http/html-page.js'
import type { Answer } from '../answer.js'
import type { Route } from '../routes.js'
import { POSTERN_PATHS } from '../../http/postern-paths.js'

/** Headers of every page the gateway shows on a service's host: no script, no frames, nothing sent onward in Referer. */
const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': PAGE_CSP,
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
} as const

export function pageAnswer(status: number, title: string, body: string, headers: Record<string, string | string[]> = {}): Answer {
  return { status, headers: { ...PAGE_HEADERS, ...headers }, body: page(title, body) }
}

const signInHref = (next: string, prompt?: 'login') =>
  `${POSTERN_PATHS.signin}?next=${encodeURIComponent(next)}${prompt ? `&prompt=${prompt}` : ''}`

/**
 * What a signed-in person without the invoker role sees when opening the service: who they are,
 * what they lack and where, how to ask for it, and a way to sign in as someone else.
 */
export function deniedPage(o: { member: string; route: Route; path: string }): Answer {
  const { projectId, serviceId } = o.route.service
  const name = escapeHtml(serviceId)
  return pageAnswer(403, `No access to ${serviceId}`, `<h1>You do not have access to ${name}</h1>
<p>You are signed in as <strong>${escapeHtml(o.member)}</strong>.</p>
<p>Opening this service needs the permission <code>run.routes.invoke</code> on <code>${escapeHtml(o.route.resource)}</code>, which the role Run Invoker (<code>roles/run.invoker</code>) grants. You do not hold it.</p>
<p>To ask for access for a while, run:</p>
<p><code>postern services request-access ${name} --project=${escapeHtml(projectId)} --for 2h --reason "…"</code></p>
<p class="note">Or ask an admin of the project to run <code>postern services add-iam-policy-binding ${name} --project=${escapeHtml(projectId)} --member='${escapeHtml(o.member)}' --role='roles/run.invoker'</code>.</p>
<a class="button secondary" href="${escapeHtml(signInHref(o.path, 'login'))}">Sign in as someone else</a>
<a class="button secondary" href="${POSTERN_PATHS.signout}">Sign out</a>`)
}

export function signedOutPage(route: Route, headers: Record<string, string | string[]>): Answer {
  return pageAnswer(200, 'Signed out', `<h1>You are signed out</h1>
<p>Your Postern session has ended, here and on every other service and on the console.</p>
<a class="button" href="${escapeHtml(signInHref('/'))}">Sign in to ${escapeHtml(route.service.serviceId)} again</a>`, headers)
}

/** Sign-out asked for from another site: ask first, so no other site can sign people out at will. */
export function confirmSignOutPage(): Answer {
  return pageAnswer(200, 'Sign out', `<h1>Sign out of Postern?</h1>
<p>This ends your Postern session on every service and on the console.</p>
<form method="post" action="${POSTERN_PATHS.signout}"><button type="submit">Sign out</button></form>`)
}

/** A sign-in round trip that cannot be completed: what went wrong, and a way to start again. */
export function signInFailedPage(status: number, message: string, next = '/', headers: Record<string, string | string[]> = {}): Answer {
  return pageAnswer(status, 'Sign-in failed', `<h1>Sign-in failed</h1>
<p class="error" role="alert">${escapeHtml(message)}</p>
<a class="button" href="${escapeHtml(signInHref(next))}">Sign in again</a>`, headers)
}
