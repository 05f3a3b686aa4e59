import { generateKeyPairSync } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { MAX_FEDERATION_CLAIM_BYTES, federatedCallerOf, oversizedClaim, readFederationClaim } from './federation-claim.js'
import { parseIssuerUri, parseJwksJson, parseProviderAudience, parseSessionDuration, providerAudience } from './workforce-names.js'

describe('workforce names and settings', () => {
  it('reads the audience of a token exchange, and nothing like it', () => {
    expect(parseProviderAudience(providerAudience('acme-staff', 'okta'))).toEqual({ poolId: 'acme-staff', providerId: 'okta' })
    for (const bad of ['//iam.postern/workforcePools/acme-staff/providers/ok', 'https://iam.postern/workforcePools/acme-staff/providers/okta', '//iam.postern/workforcePools/Acme/providers/okta', '//iam.postern/workforcePools/acme-staff/providers/okta/x']) {
      expect(parseProviderAudience(bad)).toBeUndefined()
    }
  })

  it('session durations run from 15 minutes to 12 hours', () => {
    expect(parseSessionDuration('900s')).toBe(900)
    expect(parseSessionDuration(43_200)).toBe(43_200)
    for (const bad of ['899s', '43201s', '1h', 'abc', 3600.5]) expect(() => parseSessionDuration(bad)).toThrow(/sessionDuration/)
  })

  it('issuers are https, or http on loopback only, without query or fragment', () => {
    expect(parseIssuerUri('https://login.example.com/tenant/v2.0')).toBe('https://login.example.com/tenant/v2.0')
    expect(parseIssuerUri('http://127.0.0.1:9000')).toBe('http://127.0.0.1:9000')
    for (const bad of ['http://idp.example.com', 'https://idp.example.com/?x=1', 'https://u:p@idp.example.com', 'ftp://idp.example.com', 'idp.example.com']) {
      expect(() => parseIssuerUri(bad)).toThrow(/issuerUri/)
    }
  })

  it('inline JWKS: public signing keys only', () => {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    expect(JSON.parse(parseJwksJson(JSON.stringify({ keys: [publicKey.export({ format: 'jwk' })] }))).keys).toHaveLength(1)
    expect(() => parseJwksJson(JSON.stringify({ keys: [privateKey.export({ format: 'jwk' })] }))).toThrow(/private key material/)
    expect(() => parseJwksJson(JSON.stringify({ keys: [{ kty: 'oct', k: 'c2VjcmV0' }] }))).toThrow(/only RSA, EC and OKP/)
    expect(() => parseJwksJson('{"keys":[]}')).toThrow(/1 to 50 keys/)
    expect(() => parseJwksJson('nope')).toThrow(/not JSON/)
  })
})

describe('the federation claim of Postern tokens', () => {
  const claim = { pool: 'acme-staff', pool_uid: 'u1', provider: 'okta', provider_uid: 'u2', subject: 'ann', groups: ['eng'], attributes: { dept: 'rnd' } }

  it('names the principal, and keys caches by uid, groups and attributes', () => {
    const a = federatedCallerOf({ sub: 'uid-1', federation: { ...claim, email: 'ann@example.com' } })!
    expect(a.member).toBe('principal://iam.postern/workforcePools/acme-staff/subject/ann')
    expect(a.principal).toEqual({ kind: 'federated', pool: 'acme-staff', subject: 'ann', uid: 'uid-1', email: 'ann@example.com', groups: ['eng'], attributes: { dept: 'rnd' } })
    const b = federatedCallerOf({ sub: 'uid-1', federation: { ...claim, groups: [] } })!
    expect(b.key).not.toBe(a.key)
    expect(federatedCallerOf({ sub: 'uid-1' })).toBeUndefined()
  })

  it('a malformed claim names no one', () => {
    for (const bad of [{ ...claim, pool: 'X' }, { ...claim, groups: ['a b'] }, { ...claim, attributes: { 'a/b': 'c' } }, { ...claim, subject: '' }, { ...claim, pool_uid: 1 }, { ...claim, provider_uid: undefined }, { ...claim, provider_uid: '' }, 'text', null]) {
      expect(readFederationClaim({ federation: bad })).toBeUndefined()
    }
  })

  it('fits in a token up to its bound, and beyond names the largest part', () => {
    const sized = (groups: string[], attributes: Record<string, string> = {}) => ({ ...claim, groups, attributes })
    expect(oversizedClaim(sized(['eng']))).toBeUndefined()
    const many = Array.from({ length: 190 }, (_, i) => `g${i}-${'x'.repeat(120)}`)
    expect(oversizedClaim(sized(many))).toMatch(/^The identity's groups \(190 names, [\d,]+ bytes\) are too large for a Postern token: .* at most 4,096 fit/)
    const attrs = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`a${i}`, 'v'.repeat(120)]))
    expect(oversizedClaim(sized(['eng'], attrs))).toMatch(/^The identity's attributes \(40, [\d,]+ bytes\) are too large/)
    // Exactly at the bound fits; one byte more does not.
    const base = JSON.stringify(sized(['']))
    const exact = sized(['x'.repeat(MAX_FEDERATION_CLAIM_BYTES - Buffer.byteLength(base))])
    expect(oversizedClaim(exact)).toBeUndefined()
    expect(oversizedClaim({ ...exact, groups: [exact.groups[0] + 'x'] })).toMatch(/too large/)
  })
})
