import type { Clock } from '../core/clock.js'
import type { Logger } from '../core/log.js'
import type { Directory } from '../directory/directory.js'
import type { TrustedProxies } from '../http/client-address.js'
import type { TokenIssuer } from '../identity/issuer.js'
import type { Keyring } from '../identity/keyring.js'
import type { NewAuditEntry } from '../store/records.js'
import type { Store } from '../store/store.js'

/** What the control plane's handlers are given; built once in main.ts. */
export interface ControlDeps {
  store: Store
  directory: Directory
  keyring: Keyring
  tokens: TokenIssuer
  /** Resolves once this process's caches include every change committed so far. */
  sync: () => Promise<void>
  clock: Clock
  log: Logger
  settings: ControlSettings
  /**
   * Refusals for the audit log — calls refused with PERMISSION_DENIED, failed sign-ins — counted
   * per principal, resource and minute off the request path (the gateway's denials share it), so
   * a flood of refusals costs a bounded number of rows.
   */
  refusals: { record(entry: NewAuditEntry): void }
  /** Authenticates a request by other means than a Bearer token (the console's session cookie); undefined to fall back to Bearer. */
  authenticate?: (req: import('node:http').IncomingMessage) => import('./caller.js').Caller | undefined
}

export interface ControlSettings {
  issuer: string
  controlUrl: string
  gatewayUrl: URL
  idTokenTtlSeconds: number
  /** Whether browsers reach the control plane in a secure context (TLS here or in front, or loopback): cookies are then Secure and the session cookie __Host-. */
  secureCookies: boolean
  /** Proxies whose X-Forwarded-For names the client (`--trusted-proxies`). */
  trustedProxies: TrustedProxies
}
