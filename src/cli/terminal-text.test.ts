import { describe, expect, it } from 'vitest'
import { terminalSafe } from './terminal-text.js'

describe('terminalSafe', () => {
  it('shows every control character in caret notation, so none reaches the terminal', () => {
    expect(terminalSafe('b\u001b[31mred')).toBe('b^[[31mred')
    expect(terminalSafe('\u0000\u0007\u007f')).toBe('^@^G^?')
    expect(terminalSafe('a\u009b31mb\u0085')).toBe('aM-^[31mbM-^E')
    expect(terminalSafe('é ü 日本 ✓')).toBe('é ü 日本 ✓')
  })

  it('keeps a cell on one line: line breaks and tabs become spaces', () => {
    expect(terminalSafe('a\nb\r\tc')).toBe('a b  c')
  })

  it('leaves no control character in any text', () => {
    const all = Array.from({ length: 0xa0 }, (_, i) => String.fromCharCode(i)).join('')
    expect(terminalSafe(all)).not.toMatch(/\p{Cc}/u)
  })
})
