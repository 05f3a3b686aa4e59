import { describe, expect, it } from 'vitest'
import { withinMask } from './update-mask.js'

const FIELDS = ['upstream', 'description', 'timeoutSeconds']

describe('withinMask (AIP-134)', () => {
  const body = { upstream: 'http://169.254.169.254/', description: 'm', timeoutSeconds: 30, etag: 'e1' }

  it('changes only what the mask names, in either spelling, keeping the etag', () => {
    expect(withinMask(body, 'description', FIELDS, ['etag'])).toEqual({ description: 'm', etag: 'e1' })
    expect(withinMask(body, 'description, timeout_seconds', FIELDS, ['etag'])).toEqual({ description: 'm', timeoutSeconds: 30, etag: 'e1' })
  })

  it('no mask, an empty one or * is every field the body gives', () => {
    for (const mask of [null, '', '*']) expect(withinMask(body, mask, FIELDS)).toEqual(body)
  })

  it('refuses a field the update does not take, or one the body leaves out', () => {
    expect(() => withinMask(body, 'name', FIELDS)).toThrow("updateMask names 'name', which an update does not take; it takes: upstream, description, timeoutSeconds.")
    expect(() => withinMask({ description: 'm' }, 'upstream', FIELDS)).toThrow("updateMask names 'upstream', which the body does not give.")
  })
})
