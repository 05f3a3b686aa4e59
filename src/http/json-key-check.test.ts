import { describe, expect, it } from 'vitest'
import { firstRefusedKey } from './json-key-check.js'

describe('firstRefusedKey', () => {
  it('finds a key an object holds twice, at any depth, escapes decoded', () => {
    expect(firstRefusedKey('{"policy":{"bindings":[],"bindings":[{"role":"r"}]}}')).toEqual({ key: 'bindings', why: 'twice' })
    expect(firstRefusedKey('{"a":1,"\\u0061":2}')).toEqual({ key: 'a', why: 'twice' })
    expect(firstRefusedKey('[{"x":1},{"y":[{"z":1,"z":2}]}]')).toEqual({ key: 'z', why: 'twice' })
    expect(firstRefusedKey(' { "a" : "{\\"a\\":1}" , "a" : 2 } ')).toEqual({ key: 'a', why: 'twice' })
  })

  it('lets alone keys that repeat in different objects, and strings that look like keys', () => {
    expect(firstRefusedKey('{"bindings":[{"role":"a","members":[]},{"role":"b","members":[]}]}')).toBeUndefined()
    expect(firstRefusedKey('{"a":{"a":{"a":1}},"b":"a","c":["a","a"],"d":"\\\\","e":"\\"}"}')).toBeUndefined()
    expect(firstRefusedKey('{}')).toBeUndefined()
    expect(firstRefusedKey('[]')).toBeUndefined()
    expect(firstRefusedKey('{"a":[],"b":{},"c":[{}]}')).toBeUndefined()
  })

  it('finds __proto__, the key the validators would skip, at any depth and however escaped', () => {
    expect(firstRefusedKey('{"labels":{"__proto__":"x"}}')).toEqual({ key: '__proto__', why: 'prototype' })
    expect(firstRefusedKey('{"a":[{"\\u005f_proto__":{}}]}')).toEqual({ key: '__proto__', why: 'prototype' })
    expect(firstRefusedKey('{"proto":"__proto__","__proto":1,"constructor":2}')).toBeUndefined()
  })
})
