import { PosternError } from '../core/errors.js'
import { addressBucket } from '../http/client-address.js'
import { normalizeEmail } from '../iam/members.js'
import type { Store } from '../store/store.js'
import { attemptSucceeded, beginAttempt, recentFailures, type Counter, type Limit, type Refusal } from './attempt-limits.js'
import { verifyPassword } from './passwords.js'

/**
 * Password sign-in. Failed attempts slow a guesser down without ever locking the
 * account's owner out:
 *
 * - per account and address together: a few failures are free, then each further one doubles the
 *   wait before the next attempt from that address (1 s, 2 s, 4 s … about 17 minutes), so a
 *   guesser at one address gets a handful of tries an hour, and the owner at any other address —
 *   or at the same one, once the wait is over — still signs in with the right password;
 * - per account, from every address together, a looser bound that slows rather than locks: past
 *   it, each address gets one free failure instead of several before its waits begin;
 * - per address, across accounts, a bound on failures in the window (one address trying many
 *   accounts). Behind a proxy, the address is the one `--trusted-proxies` lets Postern read from
 *   X-Forwarded-For; IPv6 addresses count by their /64.
 *
 * Every failure reads the same, and an unknown account costs the same scrypt as a known one, so
 * neither the message nor the timing tells whether an account exists.
 */
export const SIGN_IN_LIMITS = {
  windowMs: 15 * 60_000,
  /** Failures per (account, address) in the window before the waits begin. */
  freeFailures: 5,
  /** Failures of the account from all addresses in the window past which only one is free. */
  accountUnderAttack: 20,
  /** Failures per address across accounts in the window. */
  perAddress: 50,
  /** The waits: 1 s doubling up to 2^10 s (about 17 minutes). */
  backoffBaseMs: 1_000,
  backoffSteps: 10,
} as const
export const WRONG_CREDENTIALS = 'Wrong email or password.'

/** The wait, in windows of doubling length, after `failures` failures of one account at one address — pure. */
export function backoffStep(failures: number, free: number): number | undefined {
  if (failures < free) return undefined
  return Math.min(failures - free, SIGN_IN_LIMITS.backoffSteps)
}

const BACKOFF_WINDOWS = Array.from({ length: SIGN_IN_LIMITS.backoffSteps + 1 }, (_, k) => SIGN_IN_LIMITS.backoffBaseMs * 2 ** k)

export type SignInResult = { ok: true; uid: string; email: string } | { ok: false; message: string }

export async function signInWithPassword(store: Store, o: { email: string; password: string; address: string; now: number }): Promise<SignInResult> {
  const email = normalizeEmail(o.email.trim())
  // A malformed email still gets counters of its own, so malformed input is limited too.
  const account = email ?? o.email.trim().toLowerCase().slice(0, 254)
  const address = addressBucket(o.address)
  const W = SIGN_IN_LIMITS.windowMs
  const pair: Counter = { key: `signin:pair:${account}|${address}`, windowMs: W }
  const accountWide: Counter = { key: `signin:account:${account}`, windowMs: W }
  const perAddress: Limit = { key: `signin:address:${address}`, windowMs: W, max: SIGN_IN_LIMITS.perAddress }
  // One series per wait length, each counting every attempt of the pair in windows of that
  // length: "a failure within the last d" is then the usual sliding-window limit of 1.
  const waits: Counter[] = BACKOFF_WINDOWS.map((d) => ({ key: pair.key, windowMs: d }))

  const [pairFailures = 0, accountFailures = 0] = await recentFailures(store, [pair, accountWide], o.now)
  const free = accountFailures >= SIGN_IN_LIMITS.accountUnderAttack ? 1 : SIGN_IN_LIMITS.freeFailures
  // At most `free` attempts of the pair in flight within a second: a parallel burst gets no more.
  const limits: Limit[] = [perAddress, { ...waits[0]!, max: free }]
  const step = backoffStep(Math.floor(pairFailures), free)
  if (step !== undefined) limits.push({ ...waits[step]!, max: 1 })
  const counters = [pair, accountWide, perAddress, ...waits]

  const refused = await beginAttempt(store, { counters, limits }, o.now)
  if (refused) throw tooMany(refused, refused.limit === perAddress ? 'from this address' : 'for this account from this address')
  const user = email ? await store.getUser(email) : undefined
  const passwordOk = await verifyPassword(o.password, user?.passwordHash)
  if (!user || !passwordOk || user.disabled) return { ok: false, message: WRONG_CREDENTIALS }
  await attemptSucceeded(store, counters, o.now)
  return { ok: true, uid: user.uid, email: user.email }
}

function tooMany(refused: Refusal, what: string): PosternError {
  const seconds = Math.max(1, Math.ceil(refused.retryAfterMs / 1000))
  const wait = seconds < 120 ? `${seconds} second${seconds === 1 ? '' : 's'}` : `${Math.ceil(seconds / 60)} minutes`
  return new PosternError('RESOURCE_EXHAUSTED', `Too many failed sign-in attempts ${what}. Try again in ${wait}.`, { headers: { 'retry-after': String(seconds) } })
}
