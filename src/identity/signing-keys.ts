import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto'
import type { SigningKeyRecord } from '../store/records.js'
import { seal, unseal, type MasterKey } from './master-key.js'
import { selfSignedCertificate } from './x509-certificate.js'

/**
 * Signing keys: RS256, 2048-bit, named by a random `kid`. Pure planning decides when to rotate;
 * a new key is published in the JWKS before it signs (so verifiers that cache the JWKS see it
 * first), and a retired key stays published until every token it signed has expired (DESIGN §3).
 */
export interface KeyPolicy {
  rotationMs: number
  /** The longest lifetime of anything we sign (ID tokens are capped at 24 h). */
  maxTokenLifetimeMs: number
}

/** How long a new key is only published, not used: five minutes, or half the rotation period. */
export const activationDelay = (p: KeyPolicy) => Math.min(5 * 60_000, Math.floor(p.rotationMs / 2))

export function currentSigningKid(keys: readonly SigningKeyRecord[], now: number, p: KeyPolicy): string | undefined {
  let best: SigningKeyRecord | undefined
  for (const k of keys) {
    const usable = k.activateTime <= now && now + p.maxTokenLifetimeMs <= k.expireTime
    if (usable && (!best || k.activateTime > best.activateTime)) best = k
  }
  return best?.kid
}

/** A new key is due when none was created within the rotation period, or none can sign now. */
export function rotationDue(keys: readonly SigningKeyRecord[], now: number, p: KeyPolicy): boolean {
  const newest = Math.max(-Infinity, ...keys.map((k) => k.createTime))
  return newest + p.rotationMs <= now || currentSigningKid(keys, now, p) === undefined
}

export function generateSigningKey(now: number, p: KeyPolicy, hasUsableKey: boolean, master: MasterKey): SigningKeyRecord {
  const kid = randomBytes(12).toString('base64url')
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const activateTime = hasUsableKey ? now + activationDelay(p) : now
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' }
  return {
    kid,
    alg: 'RS256',
    publicJwk: JSON.stringify(jwk),
    privateKey: seal(master, privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), kid),
    createTime: now,
    activateTime,
    // It signs until its successor activates (one rotation period on time), then its last token
    // lives at most maxTokenLifetime; a generous margin covers a late rotation.
    expireTime: activateTime + 2 * p.rotationMs + p.maxTokenLifetimeMs,
  }
}

export interface LoadedKey {
  kid: string
  publicJwk: Record<string, unknown>
  publicKey: KeyObject
  record: SigningKeyRecord
  privateKey(): KeyObject
  /** A self-signed X.509 certificate of the public key, valid while the key is published (Google's v1 certs format). */
  certificate(): string
}

export function loadKey(record: SigningKeyRecord, master: MasterKey): LoadedKey {
  const publicJwk = JSON.parse(record.publicJwk) as Record<string, unknown>
  let priv: KeyObject | undefined
  let cert: string | undefined
  const publicKey = createPublicKey({ key: publicJwk as never, format: 'jwk' })
  const privateKey = () => (priv ??= createPrivateKey(unseal(master, record.privateKey, record.kid)))
  return {
    kid: record.kid,
    publicJwk,
    publicKey,
    record,
    privateKey,
    certificate: () =>
      (cert ??= selfSignedCertificate({
        publicKey,
        privateKey: privateKey(),
        commonName: record.kid,
        serial: createHash('sha256').update(record.kid).digest().subarray(0, 16),
        notBefore: new Date(record.createTime),
        notAfter: new Date(record.expireTime),
      })),
  }
}
