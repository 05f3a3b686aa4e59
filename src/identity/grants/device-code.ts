import { randomToken, sha256 } from '../../core/ids.js'
import type { DeviceCodeRecord } from '../../store/records.js'
import type { Store } from '../../store/store.js'
import { OAuthError, type OAuthErrorCode } from '../oauth-error.js'
import { issueRefreshToken } from '../refresh-tokens.js'
import { findSubject, sessionEnd, type Subject } from '../subjects.js'
import { newUserCode } from '../user-codes.js'

/** The device authorization grant (RFC 8628). */
export const DEVICE_CODE_TTL_MS = 10 * 60_000
export const DEFAULT_INTERVAL_S = 5
/** §3.5: each slow_down adds 5 seconds to the interval the client must keep. */
export const SLOW_DOWN_STEP_S = 5
/** Tolerance for network jitter when judging whether a client polled early. */
const POLL_JITTER_MS = 250

export interface DeviceAuthorization {
  deviceCode: string
  userCode: string
  expiresInSeconds: number
  intervalSeconds: number
}

/**
 * `requestAddress` is the device's client address as Postern sees it, kept to show whoever approves
 * (§5.4); `loginHint` the account it asked to be signed in as (a normalised email), the only one
 * that may approve it.
 */
export async function startDeviceAuthorization(store: Store, o: { clientId: string; scope: string; requestAddress: string; loginHint?: string; now: number }): Promise<DeviceAuthorization> {
  const deviceCode = randomToken(32)
  for (let attempt = 0; attempt < 5; attempt++) {
    const userCode = newUserCode()
    const inserted = await store.insertDeviceCode({
      deviceCodeHash: sha256(deviceCode),
      userCode,
      clientId: o.clientId,
      scope: o.scope,
      expireTime: o.now + DEVICE_CODE_TTL_MS,
      intervalSeconds: DEFAULT_INTERVAL_S,
      lastPollTime: null,
      subjectUid: null,
      authTime: null,
      denied: false,
      consumed: false,
      requestTime: o.now,
      requestAddress: o.requestAddress,
      loginHint: o.loginHint ?? null,
    })
    // A clash with a live user code is rare (20^8 codes); draw again.
    if (inserted) return { deviceCode, userCode, expiresInSeconds: DEVICE_CODE_TTL_MS / 1000, intervalSeconds: DEFAULT_INTERVAL_S }
  }
  throw new Error('Could not draw a unique user code.')
}

/** Whether a user code can still be approved: known, unexpired, not yet decided. */
export function pendingApproval(d: DeviceCodeRecord | undefined, now: number): d is DeviceCodeRecord {
  return Boolean(d && !d.consumed && !d.denied && d.subjectUid === null && d.expireTime > now)
}

/**
 * Whether `email` may approve the code: any account when the device asked for none, else only the
 * one it asked for (`postern auth login ACCOUNT`), whose CLI would refuse another's sign-in anyway.
 */
export function approvableBy(d: DeviceCodeRecord, email: string): boolean {
  return d.loginHint === null || d.loginHint === email.toLowerCase()
}

export type DeviceDecision = 'decided' | 'not-pending' | 'another-account'

/**
 * The signed-in user approves (or denies) the device showing `userCode`. A code asked for another
 * account is not approved ('another-account'); anyone who sees it may deny it.
 */
export async function decideDeviceCode(store: Store, o: { userCode: string; subjectUid: string; email: string; authTime: number; approve: boolean; now: number }): Promise<DeviceDecision> {
  return store.transaction(async (tx) => {
    const d = await tx.getDeviceCodeByUserCode(o.userCode)
    if (!pendingApproval(d, o.now)) return 'not-pending'
    if (o.approve && !approvableBy(d, o.email)) return 'another-account'
    await tx.updateDeviceCode(o.approve ? { ...d, subjectUid: o.subjectUid, authTime: o.authTime } : { ...d, denied: true })
    return 'decided'
  })
}

export type PollVerdict =
  | { kind: 'error'; error: OAuthErrorCode; description: string; update?: DeviceCodeRecord }
  | { kind: 'approved'; subjectUid: string; authTime: number; update: DeviceCodeRecord }

/** What one poll of the token endpoint gets (§3.5) — pure. */
export function judgePoll(d: DeviceCodeRecord | undefined, clientId: string, now: number): PollVerdict {
  if (!d || d.clientId !== clientId) return { kind: 'error', error: 'invalid_grant', description: 'The device code is invalid.' }
  if (d.consumed) return { kind: 'error', error: 'invalid_grant', description: 'The device code was already used.' }
  if (d.expireTime <= now) return { kind: 'error', error: 'expired_token', description: 'The device code has expired; start again.' }
  const polled = { ...d, lastPollTime: now }
  // A decided code is answered however soon it is asked about: the pace only matters while waiting.
  if (d.denied) return { kind: 'error', error: 'access_denied', description: 'The sign-in was denied.', update: { ...polled, consumed: true } }
  if (d.subjectUid !== null && d.authTime !== null) return { kind: 'approved', subjectUid: d.subjectUid, authTime: d.authTime, update: { ...polled, consumed: true } }
  // Too soon after the last poll: slow_down, after which the client adds 5 s to its interval
  // (§3.5), and the answer counts along. The gap is judged against the interval announced at the
  // start, not the one counted up: a slow_down the client never saw (a retry's, a second
  // poller's) would have put the server a step ahead of the client's count for good, every poll
  // then too soon, and an approved code never redeemed.
  if (d.lastPollTime !== null && now - d.lastPollTime < DEFAULT_INTERVAL_S * 1000 - POLL_JITTER_MS) {
    const intervalSeconds = d.intervalSeconds + SLOW_DOWN_STEP_S
    return { kind: 'error', error: 'slow_down', description: `Polling too fast; wait at least ${intervalSeconds} seconds between requests.`, update: { ...polled, intervalSeconds } }
  }
  return { kind: 'error', error: 'authorization_pending', description: 'Waiting for the user to approve the code.', update: polled }
}

export async function redeemDeviceCode(store: Store, o: { deviceCode: string; clientId: string; now: number }): Promise<{ subject: Subject; refreshToken: string; scope: string; authTime: number; signIn: string }> {
  const outcome = await store.transaction(async (tx) => {
    const d = await tx.getDeviceCode(sha256(o.deviceCode))
    const verdict = judgePoll(d, o.clientId, o.now)
    if (verdict.update) await tx.updateDeviceCode(verdict.update)
    if (verdict.kind === 'error') return verdict
    const subject = await findSubject(tx, verdict.subjectUid)
    if (!subject || subject.disabled) return { kind: 'error', error: 'access_denied', description: 'The account that approved is disabled or no longer exists.' } as const
    const notAfter = sessionEnd(subject, verdict.authTime)
    if (notAfter !== undefined && notAfter <= o.now) return { kind: 'error', error: 'access_denied', description: 'The session that approved has ended; sign in again.' } as const
    const refresh = await issueRefreshToken(tx, { subjectUid: subject.uid, clientId: o.clientId, scope: d!.scope, authTime: verdict.authTime, now: o.now, notAfter })
    return { kind: 'ok', subject, refreshToken: refresh.token, scope: d!.scope, authTime: verdict.authTime, signIn: refresh.familyId } as const
  })
  if (outcome.kind === 'error') throw new OAuthError(outcome.error, outcome.description)
  return outcome
}
