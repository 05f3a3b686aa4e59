import { createHash } from 'node:crypto'
import { secretsEqual } from '../core/ids.js'

/**
 * PKCE (RFC 7636), S256 only: `plain` would hand the verifier to anyone who sees the
 * authorization request (OAuth 2.0 Security BCP §2.1.1).
 */
const CHALLENGE = /^[A-Za-z0-9_-]{43}$/
// §4.1: 43–128 characters of [A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~".
const VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/

export type PkceProblem = 'missing' | 'method' | 'malformed'

/** Why an authorization request's PKCE parameters are unacceptable, or undefined when they are fine. */
export function pkceProblem(challenge: string | null, method: string | null): PkceProblem | undefined {
  if (!challenge) return 'missing'
  if (method !== 'S256') return 'method'
  return CHALLENGE.test(challenge) ? undefined : 'malformed'
}

export function s256(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url')
}

export function verifierMatches(verifier: string, challenge: string): boolean {
  return VERIFIER.test(verifier) && secretsEqual(s256(verifier), challenge)
}
