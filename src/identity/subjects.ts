import type { FederatedSubjectRecord, WorkforcePoolRecord, WorkforceProviderRecord } from '../store/records.js'
import type { StoreTx } from '../store/store.js'
import type { IdTokenSubject } from './issuer.js'

export interface Subject extends IdTokenSubject {
  disabled: boolean
}

/**
 * The user, service account or federated subject a token or refresh token names, read from the
 * store. A federated subject is disabled while its pool or the provider that signed it in is
 * (or is gone — and a provider re-created under the same id is not the one that signed it in).
 */
export async function findSubject(tx: StoreTx, uid: string): Promise<Subject | undefined> {
  const user = await tx.getUserByUid(uid)
  if (user) return { kind: 'user', uid: user.uid, email: user.email, disabled: user.disabled }
  const sa = await tx.getServiceAccountByUid(uid)
  if (sa) return { kind: 'serviceAccount', uid: sa.uid, email: sa.email, disabled: sa.disabled }
  const fed = await tx.getFederatedSubject(uid)
  if (fed) {
    const [pool, provider] = await Promise.all([tx.getWorkforcePool(fed.poolId), tx.getWorkforceProvider(fed.poolId, fed.providerId)])
    return federatedSubject(fed, pool, provider)
  }
  return undefined
}

export function federatedSubject(fed: FederatedSubjectRecord, pool: WorkforcePoolRecord | undefined, provider: WorkforceProviderRecord | undefined): Subject {
  return {
    kind: 'federated',
    uid: fed.uid,
    email: fed.email ?? '',
    disabled: !pool || pool.disabled || !provider || provider.uid !== fed.providerUid || provider.disabled,
    maxSessionMs: (pool?.sessionDurationSeconds ?? 0) * 1000,
    federation: {
      pool: fed.poolId,
      pool_uid: pool?.uid ?? '',
      provider: fed.providerId,
      provider_uid: fed.providerUid,
      subject: fed.subject,
      groups: fed.groups,
      attributes: fed.attributes,
      ...(fed.displayName && { display_name: fed.displayName }),
      ...(fed.email && { email: fed.email }),
    },
  }
}

/** When a sign-in that started at `authTime` ends: federated sessions last the pool's session duration; others have no such end. */
export function sessionEnd(subject: IdTokenSubject, authTime: number): number | undefined {
  return subject.maxSessionMs === undefined ? undefined : authTime + subject.maxSessionMs
}
