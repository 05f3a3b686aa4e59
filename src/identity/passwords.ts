import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto'
import { oneAtATime } from '../core/one-at-a-time.js'

/**
 * Password hashing with scrypt (memory-hard, in Node's crypto, no native add-on): N=2^15, r=8,
 * p=1 — 32 MiB and ~100 ms per hash. The parameters travel with the hash so they can be raised.
 */
const N = 2 ** 15
const R = 8
const P = 1
const KEY_LENGTH = 32
const MAX_MEM = 64 * 1024 * 1024

/**
 * scrypt holds one of libuv's four threads for ~100 ms, and the gateway checks token signatures
 * on those threads (verifyJwtAsync): password work takes one thread at most, so a burst of
 * sign-ins or password changes waits here instead of stalling every caller of the gateway.
 */
const passwordLane = oneAtATime()

function derive(password: string, salt: Buffer, n: number, r: number, p: number): Promise<Buffer> {
  return passwordLane(() => new Promise<Buffer>((resolve, reject) =>
    scrypt(password.normalize('NFC'), salt, KEY_LENGTH, { N: n, r, p, maxmem: MAX_MEM }, (err, key) => (err ? reject(err) : resolve(key))),
  ))
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16)
  const key = await derive(password, salt, N, R, P)
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64url')}$${key.toString('base64url')}`
}

// Verifying against this when the account does not exist keeps the timing of both cases alike.
const DUMMY = `scrypt$${N}$${R}$${P}$${Buffer.alloc(16).toString('base64url')}$${Buffer.alloc(KEY_LENGTH).toString('base64url')}`

export async function verifyPassword(password: string, stored: string | null | undefined): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = (stored ?? DUMMY).split('$')
  if (scheme !== 'scrypt' || !salt || !hash) return false
  const expected = Buffer.from(hash, 'base64url')
  const actual = await derive(password, Buffer.from(salt, 'base64url'), Number(n), Number(r), Number(p))
  return stored !== null && stored !== undefined && actual.length === expected.length && timingSafeEqual(actual, expected)
}

export const PASSWORD_RULES = { min: 8, max: 1024 }

export function passwordProblem(password: string): string | undefined {
  if (password.length < PASSWORD_RULES.min) return `A password needs at least ${PASSWORD_RULES.min} characters.`
  if (password.length > PASSWORD_RULES.max) return `A password may have at most ${PASSWORD_RULES.max} characters.`
  return undefined
}
