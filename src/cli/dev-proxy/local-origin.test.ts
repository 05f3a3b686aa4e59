import { describe, expect, it } from 'vitest'
import { localOriginRefusal, parseAllowedOrigins } from './local-origin.js'

describe('parseAllowedOrigins (--allow-origins)', () => {
  it('keeps each origin as a browser spells it in Origin', () => {
    expect([...parseAllowedOrigins('http://LOCALHOST:3000/, https://dev.example.com:443 ,http://[::1]:5173')]).toEqual(['http://localhost:3000', 'https://dev.example.com', 'http://[::1]:5173'])
  })

  it('refuses wildcards, null, paths, queries, credentials and other schemes', () => {
    for (const value of ['*', 'null', 'NULL', 'http://localhost:3000/app', 'http://localhost:3000?', 'http://localhost:3000#x', 'http://me@localhost:3000', 'localhost:3000', 'file:///tmp', '', ' , ']) {
      expect(() => parseAllowedOrigins(value), value).toThrow()
    }
  })
})

describe('localOriginRefusal', () => {
  const policy = { port: 8080, allowOrigins: parseAllowedOrigins('http://localhost:3000,http://127.0.0.1:3000') }

  it('serves a named origin, though the browser calls it another site', () => {
    expect(localOriginRefusal({ host: 'localhost:8080', origin: 'http://localhost:3000', 'sec-fetch-site': 'same-site' }, policy)).toBeUndefined()
    expect(localOriginRefusal({ host: 'localhost:8080', origin: 'http://127.0.0.1:3000', 'sec-fetch-site': 'cross-site' }, policy)).toBeUndefined()
  })

  it('still refuses a Host that does not name the proxy (a rebound DNS name), whatever the Origin', () => {
    expect(localOriginRefusal({ host: 'evil.example:8080', origin: 'http://localhost:3000' }, policy)).toMatch(/not Host 'evil.example:8080'/)
  })

  it('refuses an origin not named, and says how to name it', () => {
    expect(localOriginRefusal({ host: 'localhost:8080', origin: 'http://localhost:3001' }, policy)).toContain('--allow-origins http://localhost:3001')
    expect(localOriginRefusal({ host: 'localhost:8080', origin: 'http://localhost:3001' }, { port: 8080 })).toContain('--allow-origins http://localhost:3001')
    expect(localOriginRefusal({ host: 'localhost:8080', 'sec-fetch-site': 'cross-site' }, policy)).toContain('Sec-Fetch-Site: cross-site')
    expect(localOriginRefusal({ host: 'localhost:8080', origin: 'null' }, policy)).toMatch(/with --allow-origins\.$/)
  })
})
