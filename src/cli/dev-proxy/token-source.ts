/**
 * The token the developer proxy attaches: a fixed one (--token), or an audience-bound ID token of
 * the active account, renewed in the background well before it expires. Requests always read the
 * current token, and nothing is restarted, so open connections, streams and WebSockets carry on
 * across renewals (the model platform's proxy restarts every 55 minutes and cuts them).
 */
export interface TokenSource {
  current(): string
  /** The gateway refused the current token (a key it no longer knows, say): renew it now, not at its schedule. */
  renewSoon(): void
  stop(): void
}

const FIRST_RETRY_MS = 5_000
const LAST_RETRY_MS = 60_000

export function fixedToken(token: string): TokenSource {
  return { current: () => token, renewSoon() {}, stop() {} }
}

/**
 * A token renewed by `mint`. A renewal that fails is tried again, after 5 s and then less often,
 * up to a minute apart: a sign-in that has ended comes back only when the developer signs in
 * again, in another shell, and the next try picks that up. `onError` hears of each failure that
 * differs from the one before (not the same advice every 5 s), `onRecover` of the first success after.
 */
export async function renewingToken(
  mint: () => Promise<string>,
  o: { onError: (err: Error, retryInMs: number) => void; onRecover?: () => void; onRenew?: (expiresAt: number) => void },
): Promise<TokenSource> {
  let token = await mint()
  let timer: NodeJS.Timeout | undefined
  let stopped = false

  const schedule = (delayMs: number) => {
    if (stopped) return
    timer = setTimeout(renew, delayMs)
    timer.unref()
  }
  // Renew when two thirds of the lifetime has passed (at least 1 s from now). Counted from now,
  // the token just minted: its exp is the server's clock, not this machine's.
  const delayFor = (t: string) => {
    const { iat, exp } = claims(t)
    return Math.max(1_000, ((exp - iat) * 1000 * 2) / 3)
  }
  let failing: string | undefined
  let retryMs = FIRST_RETRY_MS
  let renewing = false
  let lastTry = Date.now()
  async function renew() {
    renewing = true
    lastTry = Date.now()
    try {
      token = await mint()
      if (failing !== undefined) o.onRecover?.()
      failing = undefined
      retryMs = FIRST_RETRY_MS
      o.onRenew?.(claims(token).exp * 1000)
      schedule(delayFor(token))
    } catch (err) {
      const message = (err as Error).message
      if (message !== failing) o.onError(err as Error, retryMs)
      failing = message
      schedule(retryMs)
      retryMs = Math.min(retryMs * 2, LAST_RETRY_MS)
    } finally {
      renewing = false
    }
  }
  schedule(delayFor(token))
  return {
    current: () => token,
    // At most once per FIRST_RETRY_MS: every request of a burst is refused alike.
    renewSoon() {
      if (stopped || renewing || Date.now() - lastTry < FIRST_RETRY_MS) return
      if (timer) clearTimeout(timer)
      void renew()
    },
    stop() {
      stopped = true
      if (timer) clearTimeout(timer)
    },
  }
}

function claims(token: string): { iat: number; exp: number } {
  try {
    const c = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { iat?: number; exp?: number }
    if (typeof c.exp === 'number' && typeof c.iat === 'number') return { iat: c.iat, exp: c.exp }
  } catch {
    /* fall through */
  }
  return { iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 300 }
}
