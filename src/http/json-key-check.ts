/**
 * The first key in this JSON text that a request may not hold, and why (keys compared as
 * JSON.parse reads them, escapes decoded: "\u0062indings" is "bindings"). For text JSON.parse
 * accepted.
 * - `twice`: JSON.parse keeps the last of two equal keys; a policy whose `"bindings": []` a
 *   reviewer reads would be applied as the second `"bindings"`.
 * - `prototype`: `__proto__` is an own key after JSON.parse, but the validators skip it (a guard
 *   against prototype pollution), so a label or field so named would vanish without a word.
 */
export interface RefusedKey {
  key: string
  why: 'twice' | 'prototype'
}

export function firstRefusedKey(text: string): RefusedKey | undefined {
  // The keys seen in each object being read, innermost last (null for an array).
  const open: (Set<string> | null)[] = []
  let keyNext = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === QUOTE) {
      const end = stringEnd(text, i)
      if (keyNext) {
        const key = JSON.parse(text.slice(i, end + 1)) as string
        const keys = open[open.length - 1]!
        if (keys.has(key)) return { key, why: 'twice' }
        if (key === '__proto__') return { key, why: 'prototype' }
        keys.add(key)
        keyNext = false
      }
      i = end
    } else if (c === OPEN_BRACE) {
      open.push(new Set())
      keyNext = true
    } else if (c === OPEN_BRACKET) {
      open.push(null)
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      open.pop()
    } else if (c === COMMA) {
      keyNext = open[open.length - 1] instanceof Set
    }
  }
  return undefined
}

const [QUOTE, BACKSLASH, OPEN_BRACE, CLOSE_BRACE, OPEN_BRACKET, CLOSE_BRACKET, COMMA] = ['"', '\\', '{', '}', '[', ']', ','].map((s) => s.charCodeAt(0)) as [number, number, number, number, number, number, number]

/** The index of the quote that ends the string starting at `start`. */
function stringEnd(text: string, start: number): number {
  let i = start + 1
  while (text.charCodeAt(i) !== QUOTE) i += text.charCodeAt(i) === BACKSLASH ? 2 : 1
  return i
}
