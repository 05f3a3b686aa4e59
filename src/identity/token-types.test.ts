import { describe, expect, it } from 'vitest'
import { typRefusal } from './token-types.js'

describe('typRefusal: each kind of token is accepted in its own place only', () => {
  const rows: [unknown, 'idToken' | 'accessToken', 'accept' | 'wrong-kind' | 'unknown', RegExp?][] = [
    ['JWT', 'idToken', 'accept'],
    [undefined, 'idToken', 'accept'],
    ['at+jwt', 'idToken', 'wrong-kind', /access token for the Postern API.*print-identity-token/],
    ['application/at+jwt', 'idToken', 'wrong-kind', /access token/],
    ['postern-assertion+jwt', 'idToken', 'wrong-kind', /X-Postern-Jwt-Assertion/],
    ['at+jwt', 'accessToken', 'accept'],
    ['application/at+jwt', 'accessToken', 'accept'],
    ['JWT', 'accessToken', 'wrong-kind', /^This is an ID token for services; the API takes an access token: postern auth print-access-token/],
    [undefined, 'accessToken', 'wrong-kind', /ID token/],
    ['postern-assertion+jwt', 'accessToken', 'wrong-kind', /not a bearer token/],
    ['AT+JWT', 'accessToken', 'unknown'],
    ['jwt', 'idToken', 'unknown'],
    [42, 'idToken', 'unknown'],
    ['dpop+jwt', 'accessToken', 'unknown'],
  ]
  for (const [typ, expected, verdict, words] of rows) {
    it(`${JSON.stringify(typ)} where an ${expected} is wanted: ${verdict}`, () => {
      const refusal = typRefusal(typ, expected)
      if (verdict === 'accept') return expect(refusal).toBeUndefined()
      expect(refusal?.reason).toBe(verdict)
      if (words) expect(refusal?.message).toMatch(words)
    })
  }
})
