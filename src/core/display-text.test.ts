import { describe, expect, it } from 'vitest'
import { description, displayName } from './display-text.js'

const MARKS = ['admin\u202egpj.exe', 'a\u202ab', 'a\u202db', 'ad\u200bmin', 'a\u200eb', 'a\u200fb', 'a\u2066b\u2069', 'a\u2068b', '\ufeffa', 'a\u061cb', 'a\u2060b']

describe('displayName', () => {
  it('takes any text without control characters', () => {
    expect(displayName(100).safeParse('Zoë <ops> “team” 🚀').success).toBe(true)
  })

  it('refuses NUL, CR, LF, tab, ESC, DEL and C1 controls, bidi overrides and zero-width marks, and text past its length', () => {
    for (const bad of ['a\u0000b', 'a\r\nX-Evil: 1', 'a\nb', 'a\tb', '\u001b[2Jcleared', 'a\u007f', 'a\u009bb', 'ad\u200dmin', 'ad\u200cmin', ...MARKS]) expect(displayName(100).safeParse(bad).success, JSON.stringify(bad)).toBe(false)
    expect(displayName(3).safeParse('abcd').success).toBe(false)
  })
})

describe('description', () => {
  it('takes prose: any text over lines, right-to-left scripts, joiners and control characters included', () => {
    for (const good of ['Zoë <ops> “team” 🚀', 'first line\nsecond\tcolumn', 'a\nb\u001b[31mred\u009b2J\u007f', 'שלום עולם', 'مرحبا', 'می\u200cخواهم', 'coder 👩\u200d💻']) expect(description(512).safeParse(good).success, JSON.stringify(good)).toBe(true)
  })

  it('refuses the invisible marks that reorder or hide text, and text past its length', () => {
    for (const bad of MARKS) expect(description(512).safeParse(bad).success, JSON.stringify(bad)).toBe(false)
    expect(description(3).safeParse('abcd').success).toBe(false)
  })
})
