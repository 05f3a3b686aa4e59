import type { IncomingMessage } from 'node:http'
import { describe, expect, it } from 'vitest'
import { TrustedProxies } from './client-address.js'
import { postedFromOwnOrigin, requestScheme } from './request-origin.js'

const proxy = TrustedProxies.parse('127.0.0.1/32')
const request = (headers: Record<string, string>, o: { peer?: string; tls?: boolean } = {}) =>
  ({ headers, socket: { remoteAddress: o.peer ?? '127.0.0.1', encrypted: o.tls } }) as unknown as IncomingMessage

describe('requestScheme', () => {
  it('is https over TLS, or when a trusted proxy says so; a client cannot say so', () => {
    expect(requestScheme(request({}, { tls: true }), TrustedProxies.none)).toBe('https:')
    expect(requestScheme(request({ 'x-forwarded-proto': 'https' }), proxy)).toBe('https:')
    expect(requestScheme(request({ 'x-forwarded-proto': 'HTTPS, http' }), proxy)).toBe('https:')
    expect(requestScheme(request({ 'x-forwarded-proto': 'https' }, { peer: '10.0.0.9' }), proxy)).toBe('http:')
    expect(requestScheme(request({ 'x-forwarded-proto': 'https' }), TrustedProxies.none)).toBe('http:')
  })
})

describe('postedFromOwnOrigin', () => {
  const issuer = 'https://postern.example.com'
  // Behind nginx with `proxy_set_header Host $host`: the port is gone, the proxy says https.
  const behindProxy = (origin: string) => request({ origin, host: 'postern.example.com', 'x-forwarded-proto': 'https' })

  it("takes the issuer's origin, and the request's own scheme, host and port", () => {
    expect(postedFromOwnOrigin(behindProxy('https://postern.example.com'), issuer, proxy)).toBe(true)
    expect(postedFromOwnOrigin(request({ origin: 'http://127.0.0.1:7070', host: '127.0.0.1:7070' }), issuer, proxy)).toBe(true)
  })

  it('refuses the same host over another scheme or port, and any other site', () => {
    expect(postedFromOwnOrigin(behindProxy('http://postern.example.com'), issuer, proxy)).toBe(false)
    expect(postedFromOwnOrigin(behindProxy('https://postern.example.com:8443'), issuer, proxy)).toBe(false)
    expect(postedFromOwnOrigin(behindProxy('https://evil.example'), issuer, proxy)).toBe(false)
    expect(postedFromOwnOrigin(behindProxy('null'), issuer, proxy)).toBe(false)
    expect(postedFromOwnOrigin(request({ origin: 'https://127.0.0.1:7070', host: '127.0.0.1:7070' }), issuer, proxy)).toBe(false)
  })

  it('takes a post without Origin unless the browser says it came from another site', () => {
    expect(postedFromOwnOrigin(request({ host: 'postern.example.com' }), issuer, proxy)).toBe(true)
    expect(postedFromOwnOrigin(request({ host: 'postern.example.com', 'sec-fetch-site': 'same-origin' }), issuer, proxy)).toBe(true)
    expect(postedFromOwnOrigin(request({ host: 'postern.example.com', 'sec-fetch-site': 'cross-site' }), issuer, proxy)).toBe(false)
    expect(postedFromOwnOrigin(request({ host: 'postern.example.com', 'sec-fetch-site': 'same-site' }), issuer, proxy)).toBe(false)
  })
})
