import { newUid, randomToken, sha256 } from '../../core/ids.js'
import type { Store } from '../../store/store.js'
import { OAuthError } from '../oauth-error.js'
import { verifierMatches } from '../pkce.js'
import { issueRefreshToken } from '../refresh-tokens.js'
import { findSubject, sessionEnd, type Subject } from '../subjects.js'
import type { AuthorizationRequest } from '../authorization-request.js'

/** Codes live a minute (RFC 6749 §4.1.2 recommends at most ten); the CLI redeems one at once. */
export const AUTH_CODE_TTL_MS = 60_000

export async function issueAuthorizationCode(store: Store, request: AuthorizationRequest, o: { subjectUid: string; authTime: number; now: number }): Promise<string> {
  const code = randomToken(32)
  await store.insertAuthCode({
    codeHash: sha256(code),
    clientId: request.clientId,
    redirectUri: request.redirectUri,
    codeChallenge: request.codeChallenge,
    subjectUid: o.subjectUid,
    scope: request.scope,
    nonce: request.nonce ?? null,
    authTime: o.authTime,
    expireTime: o.now + AUTH_CODE_TTL_MS,
    usedTime: null,
    familyId: null,
  })
  return code
}

export interface RedeemedCode {
  subject: Subject
  refreshToken: string
  scope: string
  authTime: number
  nonce: string | undefined
  /** The refresh-token family this code began: the sign-in its access tokens name. */
  signIn: string
}

/**
 * The authorization_code grant (RFC 6749 §4.1.3) with PKCE (RFC 7636 §4.6). A code works once;
 * a second use means it leaked, so the refresh-token family the first use started is revoked
 * (§4.1.2: "SHOULD revoke all tokens previously issued based on that authorization code").
 * A mismatched redirect_uri or verifier leaves the code untouched: the rightful client, which
 * holds the verifier, can still redeem it.
 */
export async function redeemAuthorizationCode(
  store: Store,
  o: { code: string; clientId: string; redirectUri: string; codeVerifier: string; now: number },
): Promise<RedeemedCode> {
  const hash = sha256(o.code)
  const outcome = await store.transaction(async (tx) => {
    const record = await tx.getAuthCode(hash)
    if (!record || record.clientId !== o.clientId) return fail('The authorization code is invalid.')
    if (record.usedTime !== null) return { kind: 'replay', familyId: record.familyId } as const
    if (record.expireTime <= o.now) return fail('The authorization code has expired; sign in again.')
    if (record.redirectUri !== o.redirectUri) return fail('redirect_uri differs from the one the code was issued for.')
    if (!verifierMatches(o.codeVerifier, record.codeChallenge)) return fail('code_verifier does not match the code_challenge (PKCE).')
    const subject = await findSubject(tx, record.subjectUid)
    if (!subject || subject.disabled) return fail('The account is disabled or no longer exists.')
    const familyId = newUid()
    if (!(await tx.consumeAuthCode(hash, o.now, familyId))) return { kind: 'replay', familyId: null } as const
    const notAfter = sessionEnd(subject, record.authTime)
    if (notAfter !== undefined && notAfter <= o.now) return fail('The sign-in session has ended; sign in again.')
    const refresh = await issueRefreshToken(tx, { subjectUid: subject.uid, clientId: o.clientId, scope: record.scope, authTime: record.authTime, now: o.now, familyId, notAfter })
    return { kind: 'ok', result: { subject, refreshToken: refresh.token, scope: record.scope, authTime: record.authTime, nonce: record.nonce ?? undefined, signIn: familyId } } as const
  })
  if (outcome.kind === 'replay') {
    if (outcome.familyId) await store.revokeRefreshFamily(outcome.familyId)
    throw new OAuthError('invalid_grant', 'The authorization code was already used: the sign-in it began is revoked (no token is issued from it again, and its access tokens stop working now).')
  }
  if (outcome.kind === 'error') throw new OAuthError('invalid_grant', outcome.message)
  return outcome.result
}

const fail = (message: string) => ({ kind: 'error', message }) as const
