import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'

/**
 * The README points at its own parts by name ("Two data planes" below, see "…" above, ("…")).
 * Each such name must begin a heading, a list item or a paragraph somewhere in it: a stop once
 * lost seven sections to one edit gone wide, and its test run and its final read both passed.
 */
const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
const REFERENCE = /"([A-Z][^"\n]{2,60})"\s+(?:above|below)|\bsee\s+"([A-Z][^"\n]{2,60})"|\(\s*"([A-Z][^"\n]{2,60})"\s*\)|\bunder\s+"([A-Z][^"\n]{2,60})"|\bthe table in\s+"([A-Z][^"\n]{2,60})"/g

/** Whether `name` begins a heading, a list item or a line, emphasis aside. */
function isPart(text: string, name: string): boolean {
  const plain = text.replace(/\*/g, '')
  const escaped = name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
  return new RegExp(`^(?:#+\\s+|\\s*[-|]\\s+)?${escaped}`, 'm').test(plain)
}

describe('the README', () => {
  const names = [...README.matchAll(REFERENCE)].map((m) => m.slice(1).find((g) => g !== undefined)!)

  it('points at its own parts by name', () => {
    expect(names.length).toBeGreaterThan(5)
  })

  it.each([...new Set(names)])('has the part it calls "%s"', (name) => {
    expect(isPart(README, name)).toBe(true)
  })
})
