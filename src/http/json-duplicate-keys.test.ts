import { describe, expect, it } from 'vitest'
import { firstDuplicateKey } from './json-duplicate-keys.js'

describe('firstDuplicateKey', () => {
  it('finds a key an object holds twice, at any depth, escapes decoded', () => {
    expect(firstDuplicateKey('{"policy":{"bindings":[],"bindings":[{"role":"r"}]}}')).toBe('bindings')
    expect(firstDuplicateKey('{"a":1,"\\u0061":2}')).toBe('a')
    expect(firstDuplicateKey('[{"x":1},{"y":[{"z":1,"z":2}]}]')).toBe('z')
    expect(firstDuplicateKey(' { "a" : "{\\"a\\":1}" , "a" : 2 } ')).toBe('a')
  })

  it('lets alone keys that repeat in different objects, and strings that look like keys', () => {
    expect(firstDuplicateKey('{"bindings":[{"role":"a","members":[]},{"role":"b","members":[]}]}')).toBeUndefined()
    expect(firstDuplicateKey('{"a":{"a":{"a":1}},"b":"a","c":["a","a"],"d":"\\\\","e":"\\"}"}')).toBeUndefined()
    expect(firstDuplicateKey('{}')).toBeUndefined()
    expect(firstDuplicateKey('[]')).toBeUndefined()
    expect(firstDuplicateKey('{"a":[],"b":{},"c":[{}]}')).toBeUndefined()
  })
})
