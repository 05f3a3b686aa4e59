import { ConfigFiles } from '../core/cli-config-files.js'
import { sameServer } from '../core/cli-credentials.js'
import type { ServeConfig } from '../core/config.js'
import { isLoopback } from '../core/loopback.js'

const ASK_MS = 2_000

/**
 * Where `serve --reset-owner-password` signs this machine's CLI in again. The reset runs beside
 * the server, with flags of its own: the control URL they give (--port, else 7070) need not be
 * the one the server listens on. The CLI's active configuration names a server; when that one is
 * on this machine and publishes this installation's signing keys (`kids`, from the store), it is
 * this installation's, and the CLI is signed in there. Otherwise the flags' URL, as before.
 */
export async function controlUrlForReset(config: ServeConfig, kids: readonly string[]): Promise<string> {
  let named: URL
  try {
    named = new URL(new ConfigFiles(config.cliConfigDir).readConfig().server ?? '')
  } catch {
    return config.controlUrl
  }
  if (sameServer(named.href, config.controlUrl) || !isLoopback(named.hostname.replace(/^\[|\]$/g, ''))) return config.controlUrl
  try {
    const res = await fetch(new URL('/oauth2/jwks', named.origin), { signal: AbortSignal.timeout(ASK_MS), redirect: 'error' })
    const { keys } = (await res.json()) as { keys?: { kid?: unknown }[] }
    return keys?.some((k) => typeof k.kid === 'string' && kids.includes(k.kid)) ? named.origin : config.controlUrl
  } catch {
    return config.controlUrl
  }
}
