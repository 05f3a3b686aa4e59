import { describe, expect, it } from 'vitest'
import { findSignIn, parseCredentials, putSignIn, removeSignIn, signInsOf } from './cli-credentials.js'

const A = 'http://127.0.0.1:7070'
const B = 'http://127.0.0.1:8070'

describe('credentials: one sign-in per server and account', () => {
  it("reads the previous version's file (keyed by email): each entry is its email's sign-in at the server it names", () => {
    const c = parseCredentials({ accounts: { 'owner@example.com': { type: 'user', server: A, refreshToken: 'r' }, 'broken@example.com': 'nonsense' } })
    expect(c.signIns).toEqual([{ account: 'owner@example.com', type: 'user', server: A, refreshToken: 'r' }])
    expect(findSignIn(c, `${A}/`, 'owner@example.com')?.refreshToken).toBe('r')
    expect(findSignIn(c, B, 'owner@example.com')).toBeUndefined()
  })

  it('the same email at two servers is two sign-ins; a new one replaces only its own, in place', () => {
    const c = parseCredentials(undefined)
    putSignIn(c, { account: 'owner@example.com', type: 'user', server: A, refreshToken: 'a1' })
    putSignIn(c, { account: 'owner@example.com', type: 'user', server: B, refreshToken: 'b1' })
    putSignIn(c, { account: 'owner@example.com', type: 'user', server: A, refreshToken: 'a2' })
    expect(c.signIns.map((s) => [s.server, s.refreshToken])).toEqual([[A, 'a2'], [B, 'b1']])
    expect(signInsOf(c, 'owner@example.com')).toHaveLength(2)
    removeSignIn(c, B, 'owner@example.com')
    expect(c.signIns.map((s) => s.server)).toEqual([A])
    // Written and read back, the new shape is read as it was written.
    expect(parseCredentials(JSON.parse(JSON.stringify(c)))).toEqual(c)
  })

  it('nothing usable in a file that is not credentials', () => {
    for (const raw of [null, 42, [], { accounts: [] }, { signIns: [{ account: 'x' }] }]) expect(parseCredentials(raw)).toEqual({ signIns: [] })
  })
})
