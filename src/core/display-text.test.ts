import { describe, expect, it } from 'vitest'
import { displayName } from './display-text.js'

describe('displayName', () => {
  it('takes any text without control characters', () => {
    expect(displayName(100).safeParse('Zoë <ops> “team” 🚀').success).toBe(true)
  })

  it('refuses NUL, CR, LF, tab, ESC, DEL and C1 controls, bidi overrides and zero-width marks, and text past its length', () => {
    for (const bad of ['a\u0000b', 'a\r\nX-Evil: 1', 'a\nb', 'a\tb', '\u001b[2Jcleared', 'a\u007f', 'a\u009bb', 'admin\u202egpj.exe', 'ad\u200bmin', 'a\u2066b\u2069', '\ufeffa']) expect(displayName(100).safeParse(bad).success, JSON.stringify(bad)).toBe(false)
    expect(displayName(3).safeParse('abcd').success).toBe(false)
  })
})
