import type { VerifiedClaims } from '../identity/verify.js'

/** What an open tunnel was allowed on: enough to decide again without the token's signature. */
export interface TunnelGrant {
  host: string
  /** The service it was opened to (a service deleted and recreated under the same name is another). */
  serviceUid: string
  /** The caller's verified claims; absent when the service was public. */
  claims?: VerifiedClaims
}

/**
 * Upgraded connections (WebSockets) stay open for hours, long after the one decision that let
 * them in. Every open tunnel is decided again whenever the directory changes (an account
 * disabled or deleted, a binding or group membership removed, a service made private) and once a
 * second for conditions on `request.time`; one no longer allowed is closed.
 */
export class OpenTunnels {
  private readonly open = new Map<() => void, TunnelGrant>()
  private timer: NodeJS.Timeout | undefined

  constructor(
    private readonly allowed: (grant: TunnelGrant) => boolean,
    private readonly sweepMs = 1_000,
  ) {}

  get size(): number {
    return this.open.size
  }

  /** Registers a tunnel; returns what to call when it ends. */
  add(grant: TunnelGrant, close: () => void): () => void {
    this.open.set(close, grant)
    this.timer ??= setInterval(() => this.recheck(), this.sweepMs).unref()
    return () => {
      this.open.delete(close)
      if (this.open.size === 0 && this.timer) {
        clearInterval(this.timer)
        this.timer = undefined
      }
    }
  }

  /** Decides every open tunnel again; closes those no longer allowed. */
  recheck(): void {
    for (const [close, grant] of [...this.open]) {
      let keep: boolean
      try {
        keep = this.allowed(grant)
      } catch {
        keep = false
      }
      if (!keep) {
        this.open.delete(close)
        close()
      }
    }
  }

  closeAll(): void {
    for (const close of [...this.open.keys()]) close()
    this.open.clear()
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
  }
}
