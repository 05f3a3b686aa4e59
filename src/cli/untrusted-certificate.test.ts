import { describe, expect, it } from 'vitest'
import { untrustedCertificateMessage } from './untrusted-certificate.js'

describe('untrustedCertificateMessage', () => {
  it('tells how to trust a self-signed certificate or an unknown CA', () => {
    for (const code of ['DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY']) {
      const said = untrustedCertificateMessage('https://postern.example:7070', code, 'self-signed certificate')
      expect(said, code).toMatch(/^https:\/\/postern\.example:7070 presented a certificate this machine does not trust \(self-signed certificate\)\./)
      expect(said, code).toContain('export NODE_EXTRA_CA_CERTS=')
    }
  })

  it('names an expired certificate and one for other names apart', () => {
    expect(untrustedCertificateMessage('https://a:1', 'CERT_HAS_EXPIRED', 'certificate has expired')).toContain('has expired')
    expect(untrustedCertificateMessage('https://127.0.0.1:1', 'ERR_TLS_CERT_ALTNAME_INVALID', "IP: 127.0.0.1 is not in the cert's list")).toContain('postern config set server https://NAME:PORT')
  })

  it('leaves other errors to the caller', () => {
    expect(untrustedCertificateMessage('https://a:1', 'ECONNRESET', 'socket hang up')).toBeUndefined()
    expect(untrustedCertificateMessage('https://a:1', undefined, 'fetch failed')).toBeUndefined()
  })
})
