import { describe, expect, it } from 'vitest'
import { hasUnrelayableTransferCoding } from './transfer-coding.js'

describe('hasUnrelayableTransferCoding', () => {
  it.each([
    [[], false],
    [['Content-Length', '5'], false],
    [['Transfer-Encoding', 'chunked'], false],
    [['transfer-encoding', 'Chunked '], false],
    [['Transfer-Encoding', 'gzip, chunked'], true],
    [['Transfer-Encoding', 'gzip'], true],
    [['Transfer-Encoding', 'chunked, gzip'], true],
    [['Transfer-Encoding', 'identity'], true],
    [['Transfer-Encoding', 'chunked, chunked'], true],
    [['Transfer-Encoding', 'chunked', 'Transfer-Encoding', 'gzip'], true],
    [['Transfer-Encoding', 'gzip', 'Transfer-Encoding', 'chunked'], true],
    [['Transfer-Encoding', ''], true],
    [['Transfer-Encoding', '\tchunked '], false],
    [['Transfer-Encoding', 'chunked\t'], true],
  ])('%j: %s', (headers, unrelayable) => {
    expect(hasUnrelayableTransferCoding(headers)).toBe(unrelayable)
  })
})
