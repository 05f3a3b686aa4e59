import { createPrivateKey, createSign, type KeyObject } from 'node:crypto'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { importDist } from './dist.js'

type MasterKeyModule = typeof import('../src/identity/master-key.js')

export interface SigningKey {
  kid: string
  key: KeyObject
}

/**
 * The server's current signing key, read from its data dir as test/support/forge.ts does: the
 * cold case needs ten thousand valid tokens, and asking the server for each would measure the
 * token endpoint (and scrypt for each new user), not the gateway.
 */
export async function serverSigningKey(dataDir: string): Promise<SigningKey> {
  const { loadOrCreateMasterKeyFile, unseal } = await importDist<MasterKeyModule>('identity/master-key.js')
  const db = new Database(join(dataDir, 'postern.db'), { readonly: true, fileMustExist: true })
  try {
    const row = db.prepare('SELECT kid, private_key FROM signing_keys ORDER BY activate_time DESC LIMIT 1').get() as { kid: string; private_key: string }
    return { kid: row.kid, key: createPrivateKey(unseal(loadOrCreateMasterKeyFile(dataDir).key, row.private_key, row.kid)) }
  } finally {
    db.close()
  }
}

export interface TokenSubject {
  uid: string
  email: string
}

const b64 = (value: string | Buffer) => Buffer.from(value).toString('base64url')

/** An ID token as the server mints for the CLI: RS256 with the server's kid, aud postern-cli, an hour long. */
export function mintToken(signer: SigningKey, issuer: string, subject: TokenSubject, iat: number): string {
  const header = { alg: 'RS256', kid: signer.kid, typ: 'JWT' }
  const claims = { iss: issuer, sub: subject.uid, aud: 'postern-cli', email: subject.email, iat, exp: iat + 3600 }
  const input = `${b64(JSON.stringify(header))}.${b64(JSON.stringify(claims))}`
  return `${input}.${b64(createSign('RSA-SHA256').update(input).sign(signer.key))}`
}

/**
 * Distinct tokens, round-robin over the subjects. Token n is issued `serial + n / subjects`
 * seconds before `nowS`, so every token the run mints (over all calls, by `serial`) differs
 * from every other while all stay valid for the run.
 */
export class TokenMint {
  private serial = 0

  constructor(
    private readonly signer: SigningKey,
    private readonly issuer: string,
    private readonly subjects: readonly TokenSubject[],
    private readonly nowS = Math.floor(Date.now() / 1000),
  ) {}

  mint(count: number): string[] {
    const out: string[] = []
    for (let i = 0; i < count; i++, this.serial++) {
      const subject = this.subjects[this.serial % this.subjects.length]!
      out.push(mintToken(this.signer, this.issuer, subject, this.nowS - 1 - Math.floor(this.serial / this.subjects.length)))
    }
    return out
  }
}
