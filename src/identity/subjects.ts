import type { StoreTx } from '../store/store.js'
import type { IdTokenSubject } from './issuer.js'

export interface Subject extends IdTokenSubject {
  disabled: boolean
}

/** The user or service account a token or refresh token names, read from the store. */
export async function findSubject(tx: StoreTx, uid: string): Promise<Subject | undefined> {
  const user = await tx.getUserByUid(uid)
  if (user) return { kind: 'user', uid: user.uid, email: user.email, disabled: user.disabled }
  const sa = await tx.getServiceAccountByUid(uid)
  if (sa) return { kind: 'serviceAccount', uid: sa.uid, email: sa.email, disabled: sa.disabled }
  return undefined
}
