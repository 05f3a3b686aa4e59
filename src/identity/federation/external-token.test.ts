import { generateKeyPairSync, type KeyObject } from 'node:crypto'
import { SignJWT, exportJWK, type JWK } from 'jose'
import { beforeAll, describe, expect, it } from 'vitest'
import { TokenError, type TokenErrorCode } from '../verify.js'
import { verifyExternalToken, type ProviderKeys } from './external-token.js'

/** One bad external token per row, with the verdict it must get. */
const ISSUER = 'https://idp.example.com'
const CLIENT = 'client-1'
const NOW = 1_800_000_000_000
const now = NOW / 1000

let rsa: KeyObject
let rogue: KeyObject
let ec: KeyObject
let keys: ProviderKeys

beforeAll(async () => {
  rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey
  rogue = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey
  ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey
  const pub = async (k: KeyObject, kid: string, alg: string): Promise<JWK> => ({ ...(await exportJWK(k)), d: undefined, p: undefined, q: undefined, dp: undefined, dq: undefined, qi: undefined, kid, alg })
  keys = { jwks: { keys: [await pub(rsa, 'k1', 'RS256'), await pub(ec, 'e1', 'ES256')] }, algorithms: ['RS256', 'ES256', 'HS256', 'none'] }
})

const sign = (claims: Record<string, unknown>, o: { key?: KeyObject | Uint8Array; kid?: string; alg?: string; header?: Record<string, unknown> } = {}) =>
  new SignJWT({ iss: ISSUER, aud: CLIENT, sub: 'ann', iat: now - 10, exp: now + 300, ...claims })
    .setProtectedHeader({ alg: o.alg ?? 'RS256', kid: o.kid ?? 'k1', ...o.header })
    .sign(o.key ?? rsa)

const verify = (token: string) => verifyExternalToken(token, keys, { issuer: ISSUER, clientId: CLIENT, nowMs: NOW })

describe('external token verification', () => {
  it('accepts RS256 and ES256 tokens of the provider, aud as a string or a list', async () => {
    expect((await verify(await sign({}))).sub).toBe('ann')
    expect((await verify(await sign({ aud: ['other', CLIENT] }))).sub).toBe('ann')
    expect((await verify(await sign({}, { key: ec, kid: 'e1', alg: 'ES256' }))).sub).toBe('ann')
  })

  it('accepts a token without typ or whose typ is JWT in any case, with or without application/ (RFC 7515 §4.1.9)', async () => {
    for (const typ of [undefined, 'JWT', 'jwt', 'application/jwt', 'application/JWT']) {
      expect((await verify(await sign({}, { header: { typ } }))).sub).toBe('ann')
    }
  })

  const rows: [string, () => Promise<string>, TokenErrorCode][] = [
    ['not a JWS', async () => 'abc.def', 'malformed'],
    ['another issuer', () => sign({ iss: 'https://evil.example' }), 'wrong-issuer'],
    ['an issuer with a trailing slash', () => sign({ iss: `${ISSUER}/` }), 'wrong-issuer'],
    ['another audience', () => sign({ aud: 'someone-else' }), 'wrong-audience'],
    ['expired past the leeway', () => sign({ iat: now - 1000, exp: now - 61 }), 'expired'],
    ['issued in the future', () => sign({ iat: now + 120, exp: now + 600 }), 'not-yet-valid'],
    ['not valid before later', () => sign({ nbf: now + 120 }), 'not-yet-valid'],
    ['living longer than a day', () => sign({ iat: now - 10, exp: now + 86_400 }), 'lifetime-too-long'],
    ['no exp', () => sign({ exp: undefined }), 'bad-claims'],
    ['a fractional exp', () => sign({ exp: now + 300.5 }), 'bad-claims'],
    ['a key that is not in the JWKS', () => sign({}, { key: rogue, kid: 'k9' }), 'unknown-key'],
    ['another key under the provider’s kid', () => sign({}, { key: rogue }), 'bad-signature'],
    ['a key the token carries itself (jwk header)', async () => sign({}, { key: rogue, kid: 'k9', header: { jwk: await exportJWK(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey) } }), 'unknown-key'],
    ['HS256 with the public key as secret', () => sign({}, { alg: 'HS256', key: new TextEncoder().encode('n-of-the-rsa-key') }), 'unsupported-alg'],
    ['an algorithm the provider does not use', () => sign({}, { alg: 'PS256' }), 'unsupported-alg'],
    ['a JWT access token (typ at+jwt)', () => sign({}, { header: { typ: 'at+jwt' } }), 'bad-typ'],
    ['a logout token (typ logout+jwt)', () => sign({}, { header: { typ: 'logout+jwt' } }), 'bad-typ'],
    ['a security event token (typ secevent+jwt)', () => sign({}, { header: { typ: 'secevent+jwt' } }), 'bad-typ'],
    ['an access token spelled as a media type (application/at+jwt)', () => sign({}, { header: { typ: 'application/at+jwt' } }), 'bad-typ'],
    ['any other type', () => sign({}, { header: { typ: 'JOSE' } }), 'bad-typ'],
    ['a type that is not a string', () => sign({}, { header: { typ: ['JWT'] } }), 'bad-typ'],
  ]
  for (const [what, make, code] of rows) {
    it(`refuses ${what}: ${code}`, async () => {
      const token = await make()
      const err = await verify(token).then(() => undefined, (e: unknown) => e)
      expect(err).toBeInstanceOf(TokenError)
      expect((err as TokenError).code).toBe(code)
    })
  }

  it('refuses alg none', async () => {
    const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url')
    const token = `${part({ alg: 'none' })}.${part({ iss: ISSUER, aud: CLIENT, sub: 'x', iat: now, exp: now + 60 })}.sig`
    await expect(verify(token)).rejects.toMatchObject({ code: 'unsupported-alg' })
  })
})
