import { describe, expect, it } from 'vitest'
import { CONNECTION_PREFACE, readPreface } from './prior-knowledge.js'

describe('telling h2c prior knowledge from HTTP/1.1 by the first bytes', () => {
  it('is h2 only once the whole preface has arrived, HTTP/1.1 at the first byte that differs', () => {
    expect(readPreface(CONNECTION_PREFACE)).toBe('h2')
    expect(readPreface(Buffer.concat([CONNECTION_PREFACE, Buffer.from([0, 0, 0, 4])]))).toBe('h2')
    for (let n = 1; n < CONNECTION_PREFACE.length; n++) expect(readPreface(CONNECTION_PREFACE.subarray(0, n))).toBeUndefined()
    expect(readPreface(Buffer.from('GET / HTTP/1.1\r\n'))).toBe('http/1.1')
    expect(readPreface(Buffer.from('PRI / HTTP/1.1\r\n'))).toBe('http/1.1')
    expect(readPreface(Buffer.from('PRI * HTTP/2.0\r\n\r\nXX'))).toBe('http/1.1')
  })
})
