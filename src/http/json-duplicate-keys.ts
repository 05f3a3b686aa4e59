/**
 * The first key that an object in this JSON text holds twice, if any (keys compared as JSON.parse
 * reads them, escapes decoded: "\u0062indings" is "bindings"). JSON.parse keeps the last of such
 * keys; a policy whose `"bindings": []` a reviewer reads is then applied as the second
 * `"bindings"`, so a request that holds one is refused instead. For text JSON.parse accepted.
 */
export function firstDuplicateKey(text: string): string | undefined {
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
        if (keys.has(key)) return key
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
