import { RE2JS } from 're2js'
import { invalid } from '../core/errors.js'

/**
 * Regular expressions written by admins (IAM Conditions) and matched against anything, including
 * what an identity provider puts in a token, must never be able to freeze the only thread. CEL
 * specifies RE2 syntax and semantics for `matches`; RE2 matches in time linear in the input,
 * where V8's backtracking engine is exponential on patterns such as `^([a-z/-]+)+!$`.
 *
 * Engine: re2js, the pure-JavaScript port of RE2/J, chosen by measurement (`npm run bench:regex`,
 * bench/regex-engines.ts). On realistic conditions it takes 0.3–3 µs a match (V8: 25–100 ns,
 * when it does not backtrack), and under a microsecond on the attack patterns, where V8 takes
 * milliseconds on 22 characters and doubles with each one more. The native `re2` addon is
 * 1.5–15× faster on realistic patterns (slower on the attack ones), but its releases since 1.24
 * need Node 22, and it installs by downloading a prebuilt binary (unreachable here) or by
 * compiling RE2 and Abseil from C++ for about three minutes with Node's headers at hand.
 * `re2-wasm` is slower than re2js (5–10 µs: every call copies the string into wasm memory), was
 * last released in 2021, and never frees a compiled pattern: its fixed 16 MB heap aborts the
 * process after about 2,300 distinct patterns. A few µs are small next to a gateway request
 * (~100 µs), and only requests whose policy holds a `matches` condition pay them.
 */
export const REGEX_LIMITS = {
  /** Characters in one pattern. */
  patternLength: 512,
  /**
   * RE2's program size, its own approximate measure of a pattern's cost: matching is linear in
   * the input with this factor, so it bounds the cost per character. Repetitions count
   * (`[a-z]{500}` is 502, `\pL{100}` 102); a 40-way alternation of service names is 54.
   */
  programSize: 1_000,
} as const

/** A compiled pattern holds about 30 KB once it has matched (its lazy DFA), so few are kept. */
const CACHE_LIMIT = 256
const cache = new Map<string, RE2JS>()

/**
 * Compiles a pattern with RE2 syntax, or throws INVALID_ARGUMENT saying why: too long, not RE2
 * (backreferences and lookaround have no linear-time match), or too costly.
 */
export function compileLinearRegex(pattern: string): RE2JS {
  const cached = cache.get(pattern)
  if (cached) return cached
  if (pattern.length > REGEX_LIMITS.patternLength) {
    throw invalid(`A regular expression may have at most ${REGEX_LIMITS.patternLength} characters; this one has ${pattern.length}.`)
  }
  let re: RE2JS
  try {
    re = RE2JS.compile(pattern)
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err)
    throw invalid(`Regular expression ${JSON.stringify(pattern)} is not RE2 syntax (${why}); RE2 has no backreferences or lookaround.`)
  }
  const size = re.programSize()
  if (size > REGEX_LIMITS.programSize) {
    throw invalid(`Regular expression ${JSON.stringify(pattern)} is too costly (RE2 program size ${size}, at most ${REGEX_LIMITS.programSize}); use fewer or smaller repetitions.`)
  }
  // Dropping the oldest entry only costs a recompile (0.2–0.5 ms).
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value!)
  cache.set(pattern, re)
  return re
}

/** CEL's `string.matches(pattern)`: true when the pattern matches any part of `text` (RE2's PartialMatch). */
export function matchesLinear(text: string, pattern: string): boolean {
  return compileLinearRegex(pattern).test(text)
}
