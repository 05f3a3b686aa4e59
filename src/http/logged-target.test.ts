import { describe, expect, it } from 'vitest'
import { loggedTarget } from './logged-target.js'

describe('a request target in the logs', () => {
  it('keeps the path and the query’s names, never its values', () => {
    expect(loggedTarget('/_postern/callback?code=SECRET-CODE&state=abc')).toBe('/_postern/callback?code=…&state=…')
    expect(loggedTarget('/api/items?api_key=hunter2&flag')).toBe('/api/items?api_key=…&flag')
    expect(loggedTarget('/plain/path')).toBe('/plain/path')
    expect(loggedTarget(`/${'a'.repeat(600)}`)).toHaveLength(500)
  })
})
