import { describe, expect, it } from 'vitest'
import { describeClient, describeRequestAddress, describeRequestTime } from './device-request.js'

const now = Date.UTC(2026, 0, 5, 14, 10, 30)

describe('describeRequestTime', () => {
  it.each([
    [now, 'less than a minute ago'],
    [now - 59_999, 'less than a minute ago'],
    [now + 5_000, 'less than a minute ago'],
    [now - 60_000, '1 minute ago'],
    [now - 2 * 60_000 - 10_000, '2 minutes ago'],
    [now - 119 * 60_000, '119 minutes ago'],
    [now - 3 * 3_600_000, '3 hours ago'],
    [now - 3 * 86_400_000, '3 days ago'],
  ])('a code asked for at %d is described as %s', (time, ago) => {
    expect(describeRequestTime(time, now).ago).toBe(ago)
  })

  it('gives the moment in UTC to the minute', () => {
    expect(describeRequestTime(now - 120_000, now)).toEqual({ ago: '2 minutes ago', at: '2026-01-05 14:08 UTC' })
  })

  it('says "unknown" for a code stored before the time was kept', () => {
    expect(describeRequestTime(null, now)).toEqual({ ago: 'unknown', at: undefined })
  })
})

describe('describeRequestAddress', () => {
  it('says whether the device asked from the address the approver is using', () => {
    expect(describeRequestAddress('203.0.113.7', '203.0.113.7')).toEqual({ address: '203.0.113.7', comparison: 'the address you are using now' })
    expect(describeRequestAddress('203.0.113.7', '2001:db8::1')).toEqual({ address: '203.0.113.7', comparison: 'not the address you are using now (2001:db8::1)' })
  })

  it('says "unknown" for a code stored before the address was kept, or with no address', () => {
    expect(describeRequestAddress(null, '127.0.0.1')).toEqual({ address: 'unknown', comparison: undefined })
    expect(describeRequestAddress('unknown', 'unknown')).toEqual({ address: 'unknown', comparison: undefined })
  })
})

describe('describeClient', () => {
  it('names the CLI and shows any other client by its id', () => {
    expect(describeClient('postern-cli')).toBe('the Postern CLI (postern auth login)')
    expect(describeClient('other')).toBe('other')
  })
})
