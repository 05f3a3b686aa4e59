import { randomBytes, randomUUID, createHash, timingSafeEqual } from 'node:crypto'

/** A URL-safe random string with `bytes` bytes of entropy. */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url')
}

export function newUid(): string {
  return randomUUID()
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('base64url')
}

/** Constant-time comparison for secrets (hashes of different lengths are simply unequal). */
export function secretsEqual(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}
