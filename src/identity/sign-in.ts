import { PosternError } from '../core/errors.js'
import { normalizeEmail } from '../iam/members.js'
import type { Store } from '../store/store.js'
import { attemptSucceeded, beginAttempt, type Limit } from './attempt-limits.js'
import { verifyPassword } from './passwords.js'

/**
 * Password sign-in (issue 3): failed attempts are limited per account and per client address over
 * a sliding 15-minute window; past a limit even the right password is refused until it slides on.
 * Every failure reads the same, and an unknown account costs the same scrypt as a known one, so
 * neither the message nor the timing tells whether an account exists.
 */
export const SIGN_IN_WINDOW_MS = 15 * 60_000
export const MAX_FAILURES_PER_ACCOUNT = 10
export const MAX_FAILURES_PER_ADDRESS = 50
export const WRONG_CREDENTIALS = 'Wrong email or password.'

export type SignInResult = { ok: true; uid: string; email: string } | { ok: false; message: string }

export async function signInWithPassword(store: Store, o: { email: string; password: string; address: string; now: number }): Promise<SignInResult> {
  const email = normalizeEmail(o.email.trim())
  const limits: Limit[] = [
    // A malformed email still gets a counter of its own, so malformed input is limited too.
    { key: `signin:account:${email ?? o.email.trim().toLowerCase().slice(0, 254)}`, max: MAX_FAILURES_PER_ACCOUNT },
    { key: `signin:address:${o.address}`, max: MAX_FAILURES_PER_ADDRESS },
  ]
  const refused = await beginAttempt(store, limits, o.now, SIGN_IN_WINDOW_MS)
  if (refused) {
    const minutes = Math.max(1, Math.ceil(refused.retryAfterMs / 60_000))
    const what = refused.limit === limits[0] ? 'for this account' : 'from this address'
    throw new PosternError('RESOURCE_EXHAUSTED', `Too many failed sign-in attempts ${what}. Try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`, {
      headers: { 'retry-after': String(Math.max(1, Math.ceil(refused.retryAfterMs / 1000))) },
    })
  }
  const user = email ? await store.getUser(email) : undefined
  const passwordOk = await verifyPassword(o.password, user?.passwordHash)
  if (!user || !passwordOk || user.disabled) return { ok: false, message: WRONG_CREDENTIALS }
  await attemptSucceeded(store, limits, o.now, SIGN_IN_WINDOW_MS)
  return { ok: true, uid: user.uid, email: user.email }
}
