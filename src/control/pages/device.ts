import type { IncomingMessage, ServerResponse } from 'node:http'
import { secretsEqual } from '../../core/ids.js'
import { readForm } from '../../http/body.js'
import { fixedWindow } from '../../identity/attempt-limits.js'
import { PATHS } from '../../identity/endpoints.js'
import { approvableBy, decideDeviceCode, pendingApproval } from '../../identity/grants/device-code.js'
import { formatUserCode, normalizeUserCode } from '../../identity/user-codes.js'
import type { ControlDeps } from '../deps.js'
import type { ActiveSession, SessionAuth } from '../session-auth.js'
import { errorLine, escapeHtml, page, redirect, sendPage } from '../../http/html-page.js'
import { requestClientAddress } from '../../http/client-address.js'
import type { DeviceCodeRecord } from '../../store/records.js'
import { describeClient, describeRequestAddress, describeRequestTime } from './device-request.js'

/**
 * GET/POST /device (RFC 8628 §3.3): the signed-in user types (or finds prefilled) the code their
 * device shows, sees when, from where and by which program it was asked for, and approves or
 * denies it. A code is approved only from the page that showed those details for it (§5.4: a
 * code someone else sent is what remote phishing looks like), so a typed code is shown first.
 * Code entry, shown or decided, is limited per user (§5.1), so a guessed code is worthless.
 */
const MAX_ENTRIES_PER_USER = 20
const WINDOW_MS = 15 * 60_000

const signedInAs = (session: ActiveSession) => `<p>Signed in as <strong>${escapeHtml(session.email)}</strong>.</p>`
const csrfField = (session: ActiveSession) => `<input type="hidden" name="csrf_token" value="${escapeHtml(session.record.csrfToken)}">`

/** Where a code is typed; Continue shows what asked for it. */
function entryForm(session: ActiveSession, o: { code: string; error?: string }): string {
  return page('Approve a device', `<h1>Sign in on a device</h1>
${signedInAs(session)}
<p>Enter the code your device shows. Before anything is approved you will see when and from where it was asked for.</p>
${errorLine(o.error)}<form method="post" action="${PATHS.device}">
${csrfField(session)}
<label for="user_code">Code</label>
<input id="user_code" name="user_code" required autocomplete="off" autocapitalize="characters" spellcheck="false" placeholder="XXXX-XXXX" maxlength="20" value="${escapeHtml(o.code)}">
<button type="submit" name="action" value="continue">Continue</button>
</form>`)
}

/**
 * A pending code's details and the buttons that decide it; `shown_code` ties the approval to what
 * was shown. A code asked for another account than the signed-in one offers no Approve: signing
 * in as that account (out, then back here), or Deny.
 */
function approvalForm(session: ActiveSession, d: DeviceCodeRecord, o: { now: number; approverAddress: string; error?: string }): string {
  const code = formatUserCode(d.userCode)
  const time = describeRequestTime(d.requestTime, o.now)
  const address = describeRequestAddress(d.requestAddress, o.approverAddress)
  const approvable = approvableBy(d, session.email)
  const codeField = `<label for="user_code">Code</label>
<input id="user_code" name="user_code" readonly autocomplete="off" spellcheck="false" value="${code}">`
  const decide = approvable
    ? `<form method="post" action="${PATHS.device}">
${csrfField(session)}
<input type="hidden" name="shown_code" value="${code}">
${codeField}
<button type="submit" name="action" value="approve">Approve</button>
<button type="submit" name="action" value="deny" class="secondary">Deny</button>
</form>`
    : `<p class="warning">This code can only be approved by <strong>${escapeHtml(d.loginHint!)}</strong>, and you are signed in as ${escapeHtml(session.email)}. Sign in as ${escapeHtml(d.loginHint!)} to approve it, or deny it.</p>
${signInAsForm(session, d.loginHint!, code)}
<form method="post" action="${PATHS.device}">
${csrfField(session)}
${codeField}
<button type="submit" name="action" value="deny" class="secondary">Deny</button>
</form>`
  return page('Approve a device', `<h1>Sign in on a device</h1>
${signedInAs(session)}
${errorLine(o.error)}<p>A device asked to sign in ${approvable ? 'as you ' : ''}with this code:</p>
<ul>
${d.loginHint ? `<li>This sign-in asked for: <strong>${escapeHtml(d.loginHint)}</strong></li>\n` : ''}<li>Asked for: <strong>${escapeHtml(time.ago)}</strong>${time.at ? ` (${escapeHtml(time.at)})` : ''}</li>
<li>From address: <strong>${escapeHtml(address.address)}</strong>${address.comparison ? ` — ${escapeHtml(address.comparison)}` : ''}</li>
<li>Program: <strong>${escapeHtml(describeClient(d.clientId))}</strong></li>
</ul>
<p class="warning">Only continue if you started this sign-in yourself, on a device you own. If someone sent you this code or link, choose Deny: approving lets whoever asked for it act as you.</p>
${decide}`)
}

/** Signs this session out, then opens the sign-in form filled in with `account`, back to this code after. */
function signInAsForm(session: ActiveSession, account: string, code: string): string {
  const back = `${PATHS.signin}?login_hint=${encodeURIComponent(account)}&return_to=${encodeURIComponent(`${PATHS.device}?user_code=${code}`)}`
  return `<form method="post" action="${PATHS.signout}">
${csrfField(session)}
<input type="hidden" name="return_to" value="${escapeHtml(back)}">
<button type="submit">Sign in as ${escapeHtml(account)}</button>
</form>`
}

const signInFirst = (res: ServerResponse, code: string | null | undefined) =>
  redirect(res, `${PATHS.signin}?return_to=${encodeURIComponent(PATHS.device + (code ? `?user_code=${encodeURIComponent(code)}` : ''))}`, {}, 302)

const NOT_PENDING = 'That code is not valid, has expired, or was already used. Check the code your device shows.'

/** The code's details if it is pending (with `status` and `error`), else the entry form saying why not, with `notPendingStatus`. */
async function showCode(deps: ControlDeps, req: IncomingMessage, res: ServerResponse, session: ActiveSession, typed: string, now: number, o: { notPendingStatus?: number; status?: number; error?: string } = {}): Promise<void> {
  const code = normalizeUserCode(typed)
  const d = code === undefined ? undefined : await deps.store.getDeviceCodeByUserCode(code)
  if (!pendingApproval(d, now)) {
    sendPage(res, o.notPendingStatus ?? 400, entryForm(session, { code: typed, error: NOT_PENDING }))
    return
  }
  sendPage(res, o.status ?? 200, approvalForm(session, d, { now, approverAddress: requestClientAddress(req, deps.settings.trustedProxies), error: o.error }))
}

/** Whether this user has entered more codes than allowed lately; counts this entry. */
async function tooManyEntries(deps: ControlDeps, session: ActiveSession, now: number): Promise<boolean> {
  return (await deps.store.countEvent(`device-entry:${session.record.subjectUid}`, fixedWindow(now, WINDOW_MS).start)) > MAX_ENTRIES_PER_USER
}

const TOO_MANY = 'Too many codes entered. Wait a few minutes, then try again.'

export function showDevice(deps: ControlDeps, sessions: SessionAuth) {
  return async (req: IncomingMessage, res: ServerResponse, query: URLSearchParams): Promise<void> => {
    const code = (query.get('user_code') ?? '').slice(0, 20)
    const session = await sessions.current(req)
    if (!session) return signInFirst(res, code)
    if (!code) return sendPage(res, 200, entryForm(session, { code }))
    const now = deps.clock()
    if (await tooManyEntries(deps, session, now)) return sendPage(res, 429, entryForm(session, { code, error: TOO_MANY }))
    // A link's code that is not pending is said so, but the page itself is what was asked for.
    await showCode(deps, req, res, session, code, now, { notPendingStatus: 200 })
  }
}

export function submitDevice(deps: ControlDeps, sessions: SessionAuth) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const fields = await readForm(req)
    const typed = (fields.get('user_code') ?? '').slice(0, 20)
    const session = await sessions.current(req)
    if (!session) return signInFirst(res, typed)
    const csrf = fields.get('csrf_token')
    if (!csrf || !secretsEqual(csrf, session.record.csrfToken)) {
      sendPage(res, 403, entryForm(session, { code: typed, error: 'This form did not come from this site or your session changed. Please try again.' }))
      return
    }
    const now = deps.clock()
    if (await tooManyEntries(deps, session, now)) {
      sendPage(res, 429, entryForm(session, { code: typed, error: TOO_MANY }))
      return
    }
    const code = normalizeUserCode(typed)
    const action = fields.get('action')
    // Denying is safe whatever was seen; approving only the code whose details this page showed.
    const shown = normalizeUserCode(fields.get('shown_code') ?? '')
    if (action !== 'deny' && (action !== 'approve' || code === undefined || shown !== code)) return showCode(deps, req, res, session, typed, now)
    const approve = action === 'approve'
    const decided = code === undefined ? 'not-pending' : await decideDeviceCode(deps.store, { userCode: code, subjectUid: session.record.subjectUid, email: session.email, authTime: session.record.createTime, approve, now })
    // Checked here, not only by the page leaving out Approve: a form can be posted by hand.
    if (decided === 'another-account') return showCode(deps, req, res, session, typed, now, { status: 403, error: 'This code asked for another account: sign in as that account to approve it.' })
    if (decided !== 'decided') {
      sendPage(res, 400, entryForm(session, { code: typed, error: NOT_PENDING }))
      return
    }
    await deps.store.appendAudit({ time: now, principal: session.caller.member, method: approve ? 'device.approve' : 'device.deny', resource: `users/${session.email}`, outcome: 'OK', details: { userCode: formatUserCode(code!) } })
    sendPage(res, 200, page(approve ? 'Device approved' : 'Device denied', approve
      ? `<h1>Device approved</h1><p>The device showing <code>${formatUserCode(code!)}</code> is now signed in as ${escapeHtml(session.email)}. You can close this window and return to your terminal.</p>`
      : `<h1>Device denied</h1><p>The device showing <code>${formatUserCode(code!)}</code> was not signed in.</p>`))
  }
}
