import { createHmac, createPrivateKey, createPublicKey, createSign, generateKeyPairSync, type KeyObject } from 'node:crypto'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { loadOrCreateMasterKeyFile, unseal } from '../../src/identity/master-key.js'

/**
 * For tests of claim checks the test must sign tokens itself: it reads the server's signing key
 * from the data dir (as only someone with the machine's files could), so that a token whose only
 * flaw is one claim can be made.
 */
export function serverSigningKey(dataDir: string): { kid: string; key: KeyObject; publicPem: string } {
  const db = new Database(join(dataDir, 'postern.db'), { readonly: true, fileMustExist: true })
  try {
    const row = db.prepare('SELECT kid, public_jwk, private_key FROM signing_keys ORDER BY activate_time DESC LIMIT 1').get() as { kid: string; public_jwk: string; private_key: string }
    const key = createPrivateKey(unseal(loadOrCreateMasterKeyFile(dataDir).key, row.private_key, row.kid))
    // The PEM an attacker would find and misuse as an HMAC secret (alg confusion).
    const publicPem = createPublicKey({ key: JSON.parse(row.public_jwk), format: 'jwk' }).export({ format: 'pem', type: 'spki' }).toString()
    return { kid: row.kid, key, publicPem }
  } finally {
    db.close()
  }
}

export const b64 = (value: string | Buffer) => Buffer.from(value).toString('base64url')

/** header and payload as given (payload may be raw JSON text, e.g. with 1e400), signed RS256. */
export function signRs256(header: object, payload: object | string, key: KeyObject): string {
  const input = `${b64(JSON.stringify(header))}.${b64(typeof payload === 'string' ? payload : JSON.stringify(payload))}`
  const sig = createSign('RSA-SHA256').update(input).sign(key)
  return `${input}.${b64(sig)}`
}

export function signHs256(header: object, payload: object, secret: string): string {
  const input = `${b64(JSON.stringify(header))}.${b64(JSON.stringify(payload))}`
  return `${input}.${b64(createHmac('sha256', secret).update(input).digest())}`
}

export function attackerKey(): { privateKey: KeyObject; jwk: Record<string, unknown> } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  return { privateKey, jwk: publicKey.export({ format: 'jwk' }) as Record<string, unknown> }
}
