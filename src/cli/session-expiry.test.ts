import { describe, expect, it } from 'vitest'
import { expiryOf, localExpiryOf } from './session.js'

const jwt = (claims: Record<string, unknown>) => `h.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.s`

describe('when a token just received expires, by this machine\'s clock', () => {
  it('is the time it was received plus its lifetime, whatever the server\'s clock says (RFC 6749 §5.1)', () => {
    const receivedAt = 1_000_000_000_000
    // The server's clock 10 minutes ahead of this machine's: exp alone would be read 10 minutes late.
    const serverNow = receivedAt / 1000 + 600
    const token = jwt({ iat: serverNow, exp: serverNow + 3600 })
    expect(expiryOf(token)).toBe((serverNow + 3600) * 1000)
    expect(localExpiryOf(token, receivedAt)).toBe(receivedAt + 3600_000)
  })

  it('falls back to exp without iat (or with a lifetime that makes no sense), and to 0 without exp', () => {
    expect(localExpiryOf(jwt({ exp: 2000 }), 5)).toBe(2_000_000)
    expect(localExpiryOf(jwt({ iat: 3000, exp: 2000 }), 5)).toBe(2_000_000)
    expect(localExpiryOf(jwt({ iat: 3000 }), 5)).toBe(0)
    expect(localExpiryOf('not a token', 5)).toBe(0)
  })
})
