import { describe, expect, it } from 'vitest'
import { errorDescription } from './error-description.js'

describe('errorDescription', () => {
  it('keeps printable ASCII as it is', () => {
    expect(errorDescription("Scope 'email' is not supported.")).toBe("Scope 'email' is not supported.")
  })

  it('spells typographic apostrophes and the ellipsis in ASCII', () => {
    expect(errorDescription('The subject token’s exp must be an integer; expected token=…')).toBe("The subject token's exp must be an integer; expected token=...")
  })

  it('turns quotes, backslashes and line breaks into apostrophes, other characters into ?', () => {
    expect(errorDescription('a "b" \\c\r\nd é')).toBe("a 'b' 'c''d ?")
  })
})
