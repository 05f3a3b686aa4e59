import { describe, expect, it } from 'vitest'
import { browserSafe, fetchableFromIssuer } from './provider-urls.js'

/** Where a provider's discovery document may send Postern's own fetches: one row per URL. */
describe('URLs a provider may have Postern fetch', () => {
  const rows: [issuer: string, target: string, allowed: boolean][] = [
    ['https://acme.okta.com', 'https://acme.okta.com/oauth2/v1/keys', true],
    ['https://login.example.com/tenant/v2.0', 'https://login.example.com/tenant/discovery/v2.0/keys', true],
    ['https://kc.example.com:8443/realms/staff', 'https://kc.example.com:8443/realms/staff/certs', true],
    ['https://accounts.google.com', 'https://www.googleapis.com/oauth2/v3/certs', true],
    ['https://accounts.google.com', 'https://oauth2.googleapis.com/token', true],
    ['http://127.0.0.1:5556', 'http://127.0.0.1:5556/keys', true],
    ['http://localhost:5556/dex', 'http://localhost:5556/dex/keys', true],
    // Plain http, another host, another port, the issuer's host inside another name, credentials.
    ['https://acme.okta.com', 'http://acme.okta.com/keys', false],
    ['https://acme.okta.com', 'https://evil.example/keys', false],
    ['https://acme.okta.com', 'https://acme.okta.com:5432/keys', false],
    ['https://acme.okta.com', 'https://acme.okta.com.evil.example/keys', false],
    ['https://acme.okta.com', 'https://user:pw@acme.okta.com/keys', false],
    // Postern's own loopback ports, however the issuer is spelled.
    ['https://acme.okta.com', 'http://127.0.0.1:7070/keys', false],
    ['https://acme.okta.com', 'https://127.0.0.1/keys', false],
    ['http://127.0.0.1:5556', 'http://127.0.0.1:5432/', false],
    ['http://127.0.0.1:5556', 'http://localhost:5556/keys', false],
    ['http://127.0.0.1:5556', 'https://127.0.0.1:5556/keys', false],
    // Another provider's exception is not this one's; nor with another port.
    ['https://acme.okta.com', 'https://www.googleapis.com/oauth2/v3/certs', false],
    ['https://accounts.google.com', 'https://www.googleapis.com:8443/certs', false],
    ['https://accounts.google.com', 'http://www.googleapis.com/oauth2/v3/certs', false],
    ['https://acme.okta.com', 'not a url', false],
  ]
  for (const [issuer, target, allowed] of rows) {
    it(`${allowed ? 'allows' : 'refuses'} ${target} for ${issuer}`, () => {
      expect(fetchableFromIssuer(issuer, target)).toBe(allowed)
    })
  }

  it('lets the browser go to https and loopback http authorization endpoints only', () => {
    expect(browserSafe('https://idp.example.com/authorize')).toBe(true)
    expect(browserSafe('http://127.0.0.1:5556/auth')).toBe(true)
    expect(browserSafe('http://idp.example.com/authorize')).toBe(false)
    expect(browserSafe('javascript:alert(1)')).toBe(false)
  })
})
