import { errors } from 'undici'
import { describe, expect, it } from 'vitest'
import { mayResend } from './resend.js'

const closed = new errors.SocketError('other side closed')
const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })
const brokenPipe = Object.assign(new Error('write EPIPE'), { code: 'EPIPE' })

describe('mayResend', () => {
  it('sends a bodiless request again when its connection closed, was reset or broke', () => {
    for (const err of [closed, reset, brokenPipe]) {
      for (const method of ['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'PROPFIND']) expect(mayResend(method, false, err)).toBe(true)
    }
  })

  it('never sends POST, PATCH or LOCK twice, nor any request with a body', () => {
    for (const method of ['POST', 'PATCH', 'LOCK']) expect(mayResend(method, false, closed)).toBe(false)
    expect(mayResend('PUT', true, closed)).toBe(false)
    expect(mayResend('GET', true, reset)).toBe(false)
  })

  it('answers at once when no connection was made or the upstream was slow', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })
    for (const err of [refused, new errors.ConnectTimeoutError(), new errors.HeadersTimeoutError(), new errors.RequestAbortedError(), new Error('no code')]) {
      expect(mayResend('GET', false, err)).toBe(false)
    }
  })
})
