import { describe, expect, it } from 'vitest'
import { basicClientId } from './client-authentication.js'

const basic = (credentials: string) => `Basic ${Buffer.from(credentials).toString('base64')}`
const refusal = (f: () => unknown) => {
  try {
    f()
  } catch (err) {
    return err as { code: string; description: string }
  }
  throw new Error('not refused')
}

describe('basicClientId (RFC 6749 §2.3.1)', () => {
  it('no Basic header: nothing; another scheme is not client authentication', () => {
    expect(basicClientId(undefined, undefined)).toBeUndefined()
    expect(basicClientId('Bearer abc', 'postern-cli')).toBeUndefined()
  })

  it('postern-cli without a secret names the client, in either case of the scheme', () => {
    expect(basicClientId(basic('postern-cli:'), undefined)).toBe('postern-cli')
    expect(basicClientId(`basic ${Buffer.from('postern-cli:').toString('base64')}`, 'postern-cli')).toBe('postern-cli')
  })

  it('another client, a secret, or an unreadable header is invalid_client; a body naming another client is invalid_request', () => {
    expect(refusal(() => basicClientId(basic('evil:secret'), undefined))).toMatchObject({ code: 'invalid_client', description: "Unknown client 'evil'." })
    expect(refusal(() => basicClientId(basic('postern-cli:s3cret'), undefined))).toMatchObject({ code: 'invalid_client', description: expect.stringContaining('public client') })
    expect(refusal(() => basicClientId(basic('postern-cli'), undefined))).toMatchObject({ code: 'invalid_client' })
    expect(refusal(() => basicClientId('Basic !!!', undefined))).toMatchObject({ code: 'invalid_client' })
    expect(refusal(() => basicClientId(basic('%E0%A4%A:'), undefined))).toMatchObject({ code: 'invalid_client' })
    expect(refusal(() => basicClientId(basic('postern-cli:'), 'other'))).toMatchObject({ code: 'invalid_request' })
  })

  it('reads the form-encoded id (postern%2Dcli is postern-cli)', () => {
    expect(basicClientId(basic('postern%2Dcli:'), undefined)).toBe('postern-cli')
  })
})
