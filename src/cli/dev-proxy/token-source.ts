/**
 * The token the developer proxy attaches: a fixed one (--token), or an audience-bound ID token of
 * the active account, renewed in the background well before it expires. Requests always read the
 * current token, and nothing is restarted, so open connections, streams and WebSockets carry on
 * across renewals (the model platform's proxy restarts every 55 minutes and cuts them).
 */
export interface TokenSource {
  current(): string
  stop(): void
}

export function fixedToken(token: string): TokenSource {
  return { current: () => token, stop() {} }
}

export async function renewingToken(
  mint: () => Promise<string>,
  o: { onError: (err: Error) => void; onRenew?: (expiresAt: number) => void },
): Promise<TokenSource> {
  let token = await mint()
  let timer: NodeJS.Timeout | undefined
  let stopped = false

  const schedule = (delayMs: number) => {
    if (stopped) return
    timer = setTimeout(renew, delayMs)
    timer.unref()
  }
  // Renew when two thirds of the lifetime has passed (at least 1 s from now); retry every 5 s on
  // failure. Counted from now, the token just minted: its exp is the server's clock, not this machine's.
  const delayFor = (t: string) => {
    const { iat, exp } = claims(t)
    return Math.max(1_000, ((exp - iat) * 1000 * 2) / 3)
  }
  async function renew() {
    try {
      token = await mint()
      o.onRenew?.(claims(token).exp * 1000)
      schedule(delayFor(token))
    } catch (err) {
      o.onError(err as Error)
      schedule(5_000)
    }
  }
  schedule(delayFor(token))
  return {
    current: () => token,
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
