import { sha256 } from '../../core/ids.js'
import type { Store } from '../../store/store.js'
import { OAuthError } from '../oauth-error.js'
import { issueRefreshToken } from '../refresh-tokens.js'
import { findSubject, sessionEnd, type Subject } from '../subjects.js'

export interface RefreshResult {
  subject: Subject
  refreshToken: string
  scope: string
  authTime: number
  /** The family (sign-in) the token belongs to: the access tokens minted from it name it. */
  signIn: string
}

/**
 * The refresh_token grant (RFC 6749 §6) with rotation: every use returns a new refresh token and
 * retires the old one; presenting a retired one again means it was copied, so the whole family
 * is revoked (OAuth 2.0 Security BCP §4.14.2).
 */
export async function redeemRefreshToken(store: Store, token: string, clientId: string, now: number, requestedScope?: string): Promise<RefreshResult> {
  const hash = sha256(token)
  const outcome = await store.transaction(async (tx) => {
    const record = await tx.getRefreshToken(hash)
    if (!record || record.clientId !== clientId) return fail('The refresh token is invalid.')
    if (record.revoked) return fail('The refresh token has been revoked.')
    if (record.expireTime <= now) return fail('The refresh token has expired (its session has ended); sign in again.')
    // Checked before the token is used up, so a client that asked too much keeps its sign-in.
    const beyond = requestedScope === undefined ? undefined : scopeBeyond(requestedScope, record.scope)
    if (beyond !== undefined) return { kind: 'scope', message: `The scope '${beyond.slice(0, 100)}' was not granted to this sign-in (it holds '${record.scope}'); ask for it by signing in again.` } as const
    if (!(await tx.markRefreshTokenUsed(hash, now))) return { kind: 'reuse', familyId: record.familyId } as const
    const subject = await findSubject(tx, record.subjectUid)
    if (!subject || subject.disabled) {
      await tx.revokeRefreshFamily(record.familyId)
      return fail('The account is disabled or no longer exists.')
    }
    const notAfter = sessionEnd(subject, record.authTime)
    if (notAfter !== undefined && notAfter <= now) return fail('The session has ended (the workforce pool’s session duration); sign in again.')
    const next = await issueRefreshToken(tx, { subjectUid: subject.uid, clientId, scope: record.scope, authTime: record.authTime, now, familyId: record.familyId, notAfter })
    // RFC 6749 §6: the new tokens may carry less than was granted, never more; the refresh token keeps it all.
    return { kind: 'ok', result: { subject, refreshToken: next.token, scope: requestedScope ?? record.scope, authTime: record.authTime, signIn: record.familyId } } as const
  })
  if (outcome.kind === 'reuse') {
    await store.revokeRefreshFamily(outcome.familyId)
    throw new OAuthError('invalid_grant', 'This refresh token was already used, so it may have been copied: its sign-in is revoked (no token is issued from it again, and its access tokens stop working now). Sign in again.')
  }
  if (outcome.kind === 'error') throw new OAuthError('invalid_grant', outcome.message)
  if (outcome.kind === 'scope') throw new OAuthError('invalid_scope', outcome.message)
  return outcome.result
}

const fail = (message: string) => ({ kind: 'error', message }) as const

/** The first scope asked for that the grant does not hold (RFC 6749 §6), if any. */
function scopeBeyond(requested: string, granted: string): string | undefined {
  const held = new Set(granted.split(' '))
  return requested.split(' ').find((s) => s !== '' && !held.has(s))
}
