import { usageError } from './errors.js'
import { KEY_NAME, project } from './output.js'

/**
 * `--filter`, in the part of gcloud's filter language (`gcloud topic filters`) that people type
 * into list commands:
 *
 *   key:pattern    has: case-insensitive; the value contains pattern, or with `*`, matches it
 *                  whole (`name:api-*`); `key:*` is true when key has any value
 *   key=value      equals (case-sensitive; `*` matches any run of characters), key!=value
 *   key~regex      a JavaScript regular expression matches somewhere in the value, key!~regex
 *   key<v key<=v key>v key>=v   numbers as numbers, anything else (timestamps) as text
 *   key:(a b)      any of the values, as key=(a b)
 *   word           any value of the item contains word (case-insensitive); a word holding an
 *                  operator must be quoted, else it is a key that is not one (a usage error)
 *   NOT t, -t, t AND t, t OR t, t t (AND), parentheses; values may be quoted
 *
 * A key is a dotted field (`metadata.name`, `bindings.members`); a list met on the way matches
 * when any of its items does, and `!=` / `!~` when none does.
 */
export type Filter = (item: unknown) => boolean

const OPERATORS = ['!=', '!~', '<=', '>=', ':', '=', '~', '<', '>'] as const
type Operator = (typeof OPERATORS)[number]
const KEY = new RegExp(`^${KEY_NAME}(?:\\[\\d*\\])?(?:\\.${KEY_NAME}(?:\\[\\d*\\])?)*`)

export function parseFilter(expression: string): Filter {
  const parser = new Parser(expression)
  const filter = parser.expression()
  parser.end()
  return filter
}

class Parser {
  private at = 0

  constructor(private readonly text: string) {}

  expression(): Filter {
    const terms = [this.conjunction()]
    while (this.keyword('OR')) terms.push(this.conjunction())
    return terms.length === 1 ? terms[0]! : (item) => terms.some((t) => t(item))
  }

  end(): void {
    this.space()
    if (this.at < this.text.length) this.fail(`unexpected '${this.text.slice(this.at, this.at + 20)}'`)
  }

  private conjunction(): Filter {
    const terms = [this.unary()]
    for (;;) {
      this.space()
      if (this.at >= this.text.length || this.peek(')') || this.peekKeyword('OR')) break
      this.keyword('AND')
      terms.push(this.unary())
    }
    return terms.length === 1 ? terms[0]! : (item) => terms.every((t) => t(item))
  }

  private unary(): Filter {
    this.space()
    if (this.keyword('NOT') || this.take('-')) {
      const inner = this.unary()
      return (item) => !inner(item)
    }
    if (this.take('(')) {
      const inner = this.expression()
      this.space()
      if (!this.take(')')) this.fail("a '(' is never closed")
      return inner
    }
    return this.term()
  }

  private term(): Filter {
    this.space()
    const key = KEY.exec(this.text.slice(this.at))?.[0]
    if (key) {
      const after = this.at + key.length
      const rest = this.text.slice(after).trimStart()
      const op = OPERATORS.find((o) => rest.startsWith(o))
      if (op) {
        this.at = this.text.length - rest.length + op.length
        return comparison(key, op, this.values(op))
      }
    }
    const start = this.at
    const word = this.value()
    if (word === '') this.fail('a term is missing')
    const operator = /!=|!~|[:=~<>]/.exec(word)
    if (operator && !/["']/.test(this.text[start]!)) {
      // key OP value whose key is not one (labels.cost/center=42): a free-text search for the whole
      // term would match nothing and say so with exit 0, as if no item had the label.
      this.at = start
      this.fail(`'${word.slice(0, operator.index)}' is not a key (dotted names of letters, digits, _ and -, e.g. labels.cost-center); to look for the word anywhere, quote it`)
    }
    const lower = word.toLowerCase()
    return (item) => scalars(item).some((v) => v.toLowerCase().includes(lower))
  }

  private values(op: Operator): string[] {
    this.space()
    if (!this.take('(')) {
      const value = this.value()
      if (value === '') this.fail(`a value is missing after '${op}'`)
      return [value]
    }
    const list: string[] = []
    for (;;) {
      this.space()
      if (this.take(')')) break
      if (this.at >= this.text.length) this.fail("a '(' is never closed")
      if (!this.keyword('OR')) list.push(this.value())
    }
    if (list.length === 0) this.fail(`no values in the list after '${op}'`)
    return list
  }

  /** A quoted string, or a run of characters up to a space or an unpaired parenthesis. */
  private value(): string {
    this.space()
    const quote = this.text[this.at]
    if (quote === '"' || quote === "'") {
      let out = ''
      for (let i = this.at + 1; i < this.text.length; i++) {
        const c = this.text[i]!
        if (c === '\\' && i + 1 < this.text.length) out += this.text[++i]
        else if (c === quote) {
          this.at = i + 1
          return out
        } else out += c
      }
      this.fail(`a ${quote} is never closed`)
    }
    // Parentheses inside a word are its own when they pair up (a regular expression's groups).
    const start = this.at
    let depth = 0
    for (; this.at < this.text.length; this.at++) {
      const c = this.text[this.at]!
      if (depth === 0 && (/\s/.test(c) || c === ')' || (c === '(' && this.at === start))) break
      if (c === '(') depth++
      else if (c === ')') depth--
    }
    if (depth > 0) this.fail("a '(' is never closed")
    return this.text.slice(start, this.at)
  }

  private space(): void {
    while (this.at < this.text.length && /\s/.test(this.text[this.at]!)) this.at++
  }

  private peek(s: string): boolean {
    return this.text.startsWith(s, this.at)
  }

  private take(s: string): boolean {
    this.space()
    if (!this.peek(s)) return false
    this.at += s.length
    return true
  }

  private peekKeyword(word: string): boolean {
    return this.peek(word) && /^(\s|\(|$)/.test(this.text.slice(this.at + word.length, this.at + word.length + 1))
  }

  private keyword(word: string): boolean {
    this.space()
    if (!this.peekKeyword(word)) return false
    this.at += word.length
    return true
  }

  private fail(why: string): never {
    throw usageError(`--filter=${this.text}: ${why} (at character ${this.at + 1}). Write terms such as metadata.name:api, email=ann@example.com or NOT disabled=true.`)
  }
}

function comparison(key: string, op: Operator, values: string[]): Filter {
  const tests = values.map((v) => test(op, v))
  const negated = op === '!=' || op === '!~'
  return (item) => {
    const found = scalars(project(item, key))
    const any = found.some((v) => tests.some((t) => t(v)))
    return negated ? !any : any
  }
}

function test(op: Operator, value: string): (v: string) => boolean {
  switch (op) {
    case ':':
      if (value === '*') return (v) => v !== ''
      if (value.includes('*')) return glob(value, 'i')
      return (v) => v.toLowerCase().includes(value.toLowerCase())
    case '=':
    case '!=':
      return value.includes('*') ? glob(value, '') : (v) => v === value
    case '~':
    case '!~': {
      let re: RegExp
      try {
        re = new RegExp(value)
      } catch {
        throw usageError(`--filter: '${value}' is not a regular expression.`)
      }
      return (v) => re.test(v)
    }
    default:
      return (v) => ordered(op, compare(v, value))
  }
}

function glob(pattern: string, flags: string): (v: string) => boolean {
  const re = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, flags)
  return (v) => re.test(v)
}

function ordered(op: Operator, c: number): boolean {
  return op === '<' ? c < 0 : op === '<=' ? c <= 0 : op === '>' ? c > 0 : c >= 0
}

/** Numbers as numbers, anything else by code point (ISO timestamps sort as their instants). */
export function compare(a: string, b: string): number {
  const [x, y] = [Number(a), Number(b)]
  if (a.trim() !== '' && b.trim() !== '' && Number.isFinite(x) && Number.isFinite(y)) return x - y
  return a < b ? -1 : a > b ? 1 : 0
}

/** Every string, number and boolean in a value, as text (object keys are not values). */
export function scalars(value: unknown): string[] {
  if (value === undefined || value === null) return []
  if (Array.isArray(value)) return value.flatMap(scalars)
  if (typeof value === 'object') return Object.values(value).flatMap(scalars)
  return [String(value)]
}
