import { describe, expect, it } from 'vitest'
import { accessRequestId } from './access-request-ref.js'

describe('accessRequestId', () => {
  it('takes the id, or the full name list prints', () => {
    expect(accessRequestId('k6a4e7bec2')).toBe('k6a4e7bec2')
    expect(accessRequestId('accessRequests/k6a4e7bec2')).toBe('k6a4e7bec2')
  })

  it('leaves anything else for the server to judge', () => {
    expect(accessRequestId('projects/p/accessRequests/k6a4e7bec2')).toBe('projects/p/accessRequests/k6a4e7bec2')
    expect(accessRequestId('accessrequests/k6a4e7bec2')).toBe('accessrequests/k6a4e7bec2')
  })
})
