import type { KeyObject } from 'node:crypto'
import type { Store } from '../store/store.js'
import { opens, type MasterKey } from './master-key.js'
import { currentSigningKid, generateSigningKey, loadKey, rotationDue, type KeyPolicy, type LoadedKey } from './signing-keys.js'

/**
 * The process's view of the signing keys in the store: public keys for verification and the JWKS,
 * the current private key for minting. Reloaded when the change feed reports a key change.
 */
export class Keyring {
  private keys = new Map<string, LoadedKey>()
  private jwksCache: { keys: Record<string, unknown>[] } = { keys: [] }
  /**
   * How many reloads took a key away (expired, or gone from a restored database): whatever was
   * verified or signed with the keys before (cached verdicts on tokens, cached assertions) is
   * dropped when this moves, or a token of a key that is gone would still pass where it was seen.
   */
  private removalCount = 0

  constructor(
    private readonly store: Store,
    private readonly master: MasterKey,
    private readonly policy: KeyPolicy,
    private readonly clock: () => number,
  ) {}

  async reload(): Promise<void> {
    const now = this.clock()
    const records = (await this.store.listSigningKeys()).filter((r) => r.expireTime > now)
    const next = new Map<string, LoadedKey>()
    for (const r of records) next.set(r.kid, this.keys.get(r.kid) ?? loadKey(r, this.master))
    if ([...this.keys.keys()].some((kid) => !next.has(kid))) this.removalCount++
    this.keys = next
    this.jwksCache = { keys: [...next.values()].map((k) => k.publicJwk) }
  }

  /**
   * The kids of the store's keys this process's master key cannot open: another master key sealed
   * them (POSTERN_MASTER_KEY differs from the other processes', or master.key was lost and made
   * anew). Such a process must not start: it could sign nothing, and a key it created would be one
   * the others cannot sign with once it became current.
   */
  async foreignKeys(): Promise<string[]> {
    const now = this.clock()
    return (await this.store.listSigningKeys()).filter((r) => r.expireTime > now && !opens(this.master, r.privateKey, r.kid)).map((r) => r.kid)
  }

  /** Creates a key when one is due (one process wins among many) and drops expired ones. */
  async rotateIfDue(): Promise<boolean> {
    const now = this.clock()
    const records = await this.store.listSigningKeys()
    let created = false
    if (rotationDue(records, now, this.policy)) {
      const usable = currentSigningKid(records, now, this.policy) !== undefined
      const record = generateSigningKey(now, this.policy, usable, this.master)
      created = await this.store.transaction(async (tx) => {
        const inserted = await tx.insertSigningKey(record, now - this.policy.rotationMs)
        if (inserted) await tx.recordChange('signingKey', record.kid)
        return inserted
      })
    }
    if (await this.store.deleteSigningKeysExpiredBefore(now)) await this.store.recordChange('signingKey', '*')
    await this.reload()
    return created
  }

  /** Moves whenever a key was taken away (see removalCount). */
  get removals(): number {
    return this.removalCount
  }

  jwks(): { keys: Record<string, unknown>[] } {
    return this.jwksCache
  }

  /** The published keys as `{kid: PEM certificate}`, as Google's v1 certs URL serves them. */
  certificates(): Record<string, string> {
    return Object.fromEntries([...this.keys.values()].map((k) => [k.kid, k.certificate()]))
  }

  publicKey(kid: string): KeyObject | undefined {
    return this.keys.get(kid)?.publicKey
  }

  signer(): { kid: string; key: KeyObject } {
    const kid = currentSigningKid([...this.keys.values()].map((k) => k.record), this.clock(), this.policy)
    const key = kid ? this.keys.get(kid) : undefined
    if (!key) throw new Error('No signing key is active; key rotation has not run.')
    return { kid: key.kid, key: key.privateKey() }
  }
}
