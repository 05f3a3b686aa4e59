import { newUid, randomToken, sha256 } from '../core/ids.js'
import type { StoreTx } from '../store/store.js'

/** Refresh tokens are opaque; the store keeps only their SHA-256. A family is one sign-in's chain of rotations. */
export const REFRESH_TOKEN_TTL_MS = 30 * 86_400_000

export async function issueRefreshToken(
  tx: StoreTx,
  o: { subjectUid: string; clientId: string; scope: string; authTime: number; now: number; familyId?: string; notAfter?: number },
): Promise<{ token: string; familyId: string }> {
  const token = randomToken(32)
  const familyId = o.familyId ?? newUid()
  await tx.insertRefreshToken({
    tokenHash: sha256(token),
    familyId,
    subjectUid: o.subjectUid,
    clientId: o.clientId,
    scope: o.scope,
    authTime: o.authTime,
    createTime: o.now,
    // A federated sign-in ends with its pool's session: its refresh tokens do too.
    expireTime: Math.min(o.now + REFRESH_TOKEN_TTL_MS, o.notAfter ?? Infinity),
    usedTime: null,
    revoked: false,
  })
  return { token, familyId }
}
