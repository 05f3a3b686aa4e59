import type { KeyObject } from 'node:crypto'
import { SignJWT } from 'jose'

/** Claims Postern puts in the tokens it signs (DESIGN §3); `iss`, `iat`, `exp` are added here. */
export interface TokenClaims {
  sub: string
  aud: string | string[]
  azp?: string
  email?: string
  email_verified?: boolean
  nonce?: string
  auth_time?: number
  [claim: string]: unknown
}

export interface Signer {
  kid: string
  key: KeyObject
}

/** `typ` names the kind of token (token-types.ts), so that no kind is ever taken for another. */
export async function mintJwt(claims: TokenClaims, signer: Signer, issuer: string, nowMs: number, ttlSeconds: number, typ: string): Promise<string> {
  const iat = Math.floor(nowMs / 1000)
  return new SignJWT({ ...claims })
    .setProtectedHeader({ alg: 'RS256', kid: signer.kid, typ })
    .setIssuer(issuer)
    .setIssuedAt(iat)
    .setExpirationTime(iat + ttlSeconds)
    .sign(signer.key)
}
