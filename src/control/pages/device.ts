import type { IncomingMessage, ServerResponse } from 'node:http'
import { secretsEqual } from '../../core/ids.js'
import { readForm } from '../../http/body.js'
import { fixedWindow } from '../../identity/attempt-limits.js'
import { PATHS } from '../../identity/endpoints.js'
import { decideDeviceCode } from '../../identity/grants/device-code.js'
import { formatUserCode, normalizeUserCode } from '../../identity/user-codes.js'
import type { ControlDeps } from '../deps.js'
import type { ActiveSession, SessionAuth } from '../session-auth.js'
import { errorLine, escapeHtml, page, redirect, sendPage } from '../../http/html-page.js'

/**
 * GET/POST /device (RFC 8628 §3.3): the signed-in user types (or finds prefilled) the code their
 * device shows and approves or denies it. Code entry is limited per user (§5.1), so a guessed
 * code is worthless.
 */
const MAX_ENTRIES_PER_USER = 20
const WINDOW_MS = 15 * 60_000

function form(session: ActiveSession, o: { code: string; error?: string }): string {
  return page('Approve a device', `<h1>Sign in on a device</h1>
<p>Signed in as <strong>${escapeHtml(session.email)}</strong>. Approve only a code that you asked for yourself, on a device or terminal you control: approving signs that device in as you.</p>
${errorLine(o.error)}<form method="post" action="${PATHS.device}">
<input type="hidden" name="csrf_token" value="${escapeHtml(session.record.csrfToken)}">
<label for="user_code">Code</label>
<input id="user_code" name="user_code" required autocomplete="off" autocapitalize="characters" spellcheck="false" placeholder="XXXX-XXXX" maxlength="20" value="${escapeHtml(o.code)}">
<button type="submit" name="action" value="approve">Approve</button>
<button type="submit" name="action" value="deny" class="secondary">Deny</button>
</form>`)
}

const signInFirst = (res: ServerResponse, code: string | null | undefined) =>
  redirect(res, `${PATHS.signin}?return_to=${encodeURIComponent(PATHS.device + (code ? `?user_code=${encodeURIComponent(code)}` : ''))}`, {}, 302)

export function showDevice(sessions: SessionAuth) {
  return async (req: IncomingMessage, res: ServerResponse, query: URLSearchParams): Promise<void> => {
    const code = (query.get('user_code') ?? '').slice(0, 20)
    const session = await sessions.current(req)
    if (!session) return signInFirst(res, code)
    sendPage(res, 200, form(session, { code }))
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
      sendPage(res, 403, form(session, { code: typed, error: 'This form did not come from this site or your session changed. Please try again.' }))
      return
    }
    const now = deps.clock()
    const entries = await deps.store.countEvent(`device-entry:${session.record.subjectUid}`, fixedWindow(now, WINDOW_MS).start)
    if (entries > MAX_ENTRIES_PER_USER) {
      sendPage(res, 429, form(session, { code: typed, error: 'Too many codes entered. Wait a few minutes, then try again.' }))
      return
    }
    const code = normalizeUserCode(typed)
    const approve = fields.get('action') !== 'deny'
    const decided = code !== undefined && (await decideDeviceCode(deps.store, { userCode: code, subjectUid: session.record.subjectUid, authTime: session.record.createTime, approve, now }))
    if (!decided) {
      sendPage(res, 400, form(session, { code: typed, error: 'That code is not valid, has expired, or was already used. Check the code your device shows.' }))
      return
    }
    await deps.store.appendAudit({ time: now, principal: session.caller.member, method: approve ? 'device.approve' : 'device.deny', resource: `users/${session.email}`, outcome: 'OK', details: { userCode: formatUserCode(code!) } })
    sendPage(res, 200, page(approve ? 'Device approved' : 'Device denied', approve
      ? `<h1>Device approved</h1><p>The device showing <code>${formatUserCode(code!)}</code> is now signed in as ${escapeHtml(session.email)}. You can close this window and return to your terminal.</p>`
      : `<h1>Device denied</h1><p>The device showing <code>${formatUserCode(code!)}</code> was not signed in.</p>`))
  }
}
