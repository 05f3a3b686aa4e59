import type { Principal } from '../iam/principal.js'
import { federatedCallerOf, type FederatedCaller, type FederationClaim } from './federation/federation-claim.js'

/** Who is calling, once authenticated: the same for the control API, the gateway and browser sessions. */
export interface Caller {
  principal: Principal
  /** The subject's stable uid (a token's `sub`). */
  uid: string
  /** The member string that names the caller (e.g. user:ann@x.com), as the audit log and policies do. */
  member: string
  email: string
  /** Stable key for per-principal caches (a federated caller's includes its groups and attributes). */
  key: string
  /** The sign-in (refresh-token family) the caller's access token comes from (`sid`), when it names one. */
  signIn?: string
}

/**
 * What the check needs of the directory. Structural, because the directory sits above identity/
 * (it follows the store's change feed); `Directory` satisfies it.
 */
export interface KnownAccounts {
  principal(uid: string): { kind: 'user' | 'serviceAccount'; uid: string; email: string; disabled: boolean } | undefined
  federationProblem(claim: FederationClaim): string | undefined
}

export type CallerCheck = { ok: true; caller: Caller } | { ok: false; description: string }

/**
 * The caller a verified token (or a browser session's subject) names, checked against what the
 * directory knows now: a federated subject's pool and provider must still be the ones that
 * signed it in; a user or service account must still exist and be enabled. `whose` starts the
 * refusal: "The account this token was issued to", "Your account".
 */
export function callerFromClaims(
  claims: { sub: string; email?: string; [claim: string]: unknown },
  accounts: KnownAccounts,
  whose: string,
  federated: FederatedCaller | null | undefined = federatedCallerOf(claims),
): CallerCheck {
  if (federated) {
    const problem = accounts.federationProblem(federated.claim)
    if (problem) return { ok: false, description: problem }
    return { ok: true, caller: { principal: federated.principal, uid: claims.sub, member: federated.member, email: claims.email ?? '', key: federated.key } }
  }
  const known = accounts.principal(claims.sub)
  if (!known) return { ok: false, description: `${whose} no longer exists.` }
  if (known.disabled) return { ok: false, description: `${whose} is disabled.` }
  return { ok: true, caller: { principal: { kind: known.kind, uid: known.uid, email: known.email }, uid: known.uid, member: `${known.kind}:${known.email}`, email: known.email, key: known.uid } }
}
