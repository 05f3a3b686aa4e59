import { X509Certificate, generateKeyPairSync } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { selfSignedCertificate } from './x509-certificate.js'

describe('selfSignedCertificate', () => {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const request = {
    publicKey,
    privateKey,
    commonName: 'kid-123',
    serial: Buffer.from('ff0102', 'hex'),
    notBefore: new Date('2026-11-30T10:00:00Z'),
    notAfter: new Date('2027-02-01T10:00:00Z'),
  }

  it('is a certificate Node parses, for this key, self-signed and valid over the given dates', () => {
    const cert = new X509Certificate(selfSignedCertificate(request))
    expect(cert.subject).toBe('CN=kid-123')
    expect(cert.issuer).toBe('CN=kid-123')
    expect(cert.serialNumber.toLowerCase()).toBe('ff0102')
    expect(cert.verify(publicKey)).toBe(true)
    expect(cert.publicKey.export({ format: 'jwk' })).toEqual(publicKey.export({ format: 'jwk' }))
    expect(new Date(cert.validFrom).toISOString()).toBe('2026-11-30T10:00:00.000Z')
    expect(new Date(cert.validTo).toISOString()).toBe('2027-02-01T10:00:00.000Z')
    expect(cert.ca).toBe(false)
  })

  it('is the same bytes every time for the same key and dates', () => {
    expect(selfSignedCertificate(request)).toBe(selfSignedCertificate(request))
  })

  it('writes dates from 2050 as GeneralizedTime', () => {
    const cert = new X509Certificate(selfSignedCertificate({ ...request, notAfter: new Date('2051-06-01T00:00:00Z') }))
    expect(new Date(cert.validTo).toISOString()).toBe('2051-06-01T00:00:00.000Z')
  })
})
