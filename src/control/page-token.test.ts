import { describe, expect, it } from 'vitest'
import { PosternError } from '../core/errors.js'
import { decodePageToken, encodePageToken } from './page-token.js'

const ID = /^[a-z2-7]{10}$/
const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url')

function refusal(token: string, query = 'PENDING'): PosternError {
  try {
    decodePageToken(token, 'accessRequests', query, ID)
  } catch (err) {
    if (err instanceof PosternError) return err
    throw err
  }
  throw new Error(`accepted ${token}`)
}

describe('page tokens', () => {
  it('give back the position they were made from, for the same list and query', () => {
    const token = encodePageToken('accessRequests', 'PENDING', { time: 1_764_000_000_000, id: 'k3v7q2m4xa' })
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/)
    expect(decodePageToken(token, 'accessRequests', 'PENDING', ID)).toEqual({ time: 1_764_000_000_000, id: 'k3v7q2m4xa' })
  })

  it.each([
    ['empty', ''],
    ['not base64url', 'a+b/c='],
    ['a bare number (an audit-log token)', '12345'],
    ['negative', b64({ l: 'accessRequests', q: 'PENDING', t: -1, i: 'k3v7q2m4xa' })],
    ['huge', b64({ l: 'accessRequests', q: 'PENDING', t: 1e300, i: 'k3v7q2m4xa' })],
    ['a fraction', b64({ l: 'accessRequests', q: 'PENDING', t: 1.5, i: 'k3v7q2m4xa' })],
    ['a time as text', b64({ l: 'accessRequests', q: 'PENDING', t: '10', i: 'k3v7q2m4xa' })],
    ['an id of another shape', b64({ l: 'accessRequests', q: 'PENDING', t: 10, i: "x' OR 1=1 --" })],
    ['another list', encodePageToken('services', 'PENDING', { time: 10, id: 'k3v7q2m4xa' })],
    ['not JSON', b64('{"l":')],
    ['JSON null', b64('null')],
    ['a JSON array', b64([1, 2])],
    ['too long', 'A'.repeat(301)],
  ])('refuse %s with INVALID_ARGUMENT', (_what, token) => {
    const err = refusal(token)
    expect(err.status).toBe('INVALID_ARGUMENT')
    expect(err.message).toContain('pageToken is not one this API returned')
  })

  it('refuse a token made for other filters, saying so', () => {
    const token = encodePageToken('accessRequests', '', { time: 10, id: 'k3v7q2m4xa' })
    expect(refusal(token, 'PENDING').message).toContain('with these filters')
  })
})
