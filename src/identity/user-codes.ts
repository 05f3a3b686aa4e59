import { randomInt } from 'node:crypto'

/**
 * Device-flow user codes (RFC 8628 §6.1): eight letters from an alphabet without vowels (no
 * words) and without look-alikes (no 0/O, 1/I/L confusion with digits), shown as XXXX-XXXX.
 * 20^8 ≈ 2^34.6 codes; entry is rate limited and a code lives ten minutes, so guessing one that
 * is pending is hopeless.
 */
export const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ'
const LENGTH = 8

export function newUserCode(random: (max: number) => number = randomInt): string {
  let code = ''
  for (let i = 0; i < LENGTH; i++) code += USER_CODE_ALPHABET[random(USER_CODE_ALPHABET.length)]
  return code
}

export function formatUserCode(code: string): string {
  return `${code.slice(0, 4)}-${code.slice(4)}`
}

/**
 * What the user typed, as stored: case, spaces and punctuation ignored (RFC 8628 §6.1) — any
 * dash a phone or word processor makes of ours (–, —), a dot, an underscore; undefined if it
 * cannot be a code.
 */
export function normalizeUserCode(typed: string): string | undefined {
  const code = typed.toUpperCase().replace(/[\s\p{P}\p{S}]/gu, '')
  if (code.length !== LENGTH) return undefined
  for (const c of code) if (!USER_CODE_ALPHABET.includes(c)) return undefined
  return code
}
