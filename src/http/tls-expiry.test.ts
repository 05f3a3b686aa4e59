import { describe, expect, it } from 'vitest'
import { expiryNotice } from './tls-expiry.js'

describe('expiryNotice', () => {
  const now = Date.parse('2026-12-06T12:00:00Z')
  const validTo = (hours: number) => new Date(now + hours * 3_600_000).toUTCString()

  it('says nothing while 14 days or more are left', () => {
    expect(expiryNotice(validTo(14 * 24), now)).toBeUndefined()
    expect(expiryNotice(validTo(90 * 24), now)).toBeUndefined()
  })

  it('warns in days, then hours, as the end nears', () => {
    expect(expiryNotice(validTo(14 * 24 - 1), now)).toMatchObject({ level: 'warn', message: expect.stringMatching(/^the TLS certificate expires in 13 days \(/) })
    expect(expiryNotice(validTo(30), now)?.message).toMatch(/^the TLS certificate expires in 1 day \(/)
    expect(expiryNotice(validTo(23.5), now)?.message).toMatch(/^the TLS certificate expires in 23 hours \(/)
    expect(expiryNotice(validTo(0.5), now)?.message).toMatch(/^the TLS certificate expires in 1 hour \(/)
  })

  it('says an expired certificate as an error', () => {
    expect(expiryNotice(validTo(-1), now)).toMatchObject({ level: 'error', message: expect.stringMatching(/^the TLS certificate expired on .*: clients refuse it\./) })
  })

  it('says nothing of a date it cannot read', () => {
    expect(expiryNotice('not a date', now)).toBeUndefined()
  })
})
