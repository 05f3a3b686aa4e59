import { describe, expect, it } from 'vitest'
import { wantsHtml } from './accept.js'
import { bearerChallenge } from './challenge.js'

describe('the WWW-Authenticate builder', () => {
  it('names the realm, and the error and its description when a token was refused', () => {
    expect(bearerChallenge()).toBe('Bearer realm="postern"')
    expect(bearerChallenge({ error: 'invalid_token', description: 'token expired' })).toBe('Bearer realm="postern", error="invalid_token", error_description="token expired"')
  })

  it('keeps anything a caller sends inside the quoted description', () => {
    const header = bearerChallenge({ error: 'invalid_token', description: 'a "quote", a \\ backslash,\r\nSet-Cookie: x=1 and ünïcode' })
    expect(header).toBe(`Bearer realm="postern", error="invalid_token", error_description="a 'quote', a ' backslash,''Set-Cookie: x=1 and ?n?code"`)
    expect(header.match(/"/g)).toHaveLength(6)
  })
})

describe('the Accept rule', () => {
  it.each([
    [undefined, false],
    ['*/*', false],
    ['application/json', false],
    ['text/html', true],
    ['TEXT/HTML', true],
    ['text/html,application/xhtml+xml,*/*;q=0.8', true],
    ['text/html, application/json', false],
    ['text/htmlx', false],
  ])('%s → %s', (accept, html) => expect(wantsHtml(accept)).toBe(html))
})
