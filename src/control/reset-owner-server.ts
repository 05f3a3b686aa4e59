import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ConfigFiles } from '../core/cli-config-files.js'
import { sameServer } from '../core/cli-credentials.js'
import type { ServeConfig } from '../core/config.js'

/** Where a running server notes the control URL it serves, in its data directory. */
const CONTROL_URL_FILE = 'control-url'

/** Notes the control URL this server serves, for `--reset-owner-password` run beside it later. */
export function recordControlUrl(dataDir: string, url: string): void {
  // With PostgreSQL and POSTERN_MASTER_KEY nothing else may have made the directory.
  mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  writeFileSync(join(dataDir, CONTROL_URL_FILE), url + '\n', { mode: 0o600 })
}

/**
 * Where `serve --reset-owner-password` signs this machine's CLI in again. The reset runs beside
 * the server, with flags of its own: the control URL they give (--port, else 7070) need not be
 * the one the server listens on. When the CLI's active configuration names the URL the server of
 * this data directory noted it serves, the CLI is signed in there. Nothing is asked of the
 * network: a public document (the JWKS) would prove nothing, and another local user serving a
 * copy on a port the CLI names would be handed the owner's new refresh token.
 */
export function controlUrlForReset(config: ServeConfig): string {
  let recorded: string
  try {
    recorded = readFileSync(join(config.dataDir, CONTROL_URL_FILE), 'utf8').trim()
  } catch {
    return config.controlUrl
  }
  const named = new ConfigFiles(config.cliConfigDir).readConfig().server
  return named !== undefined && recorded !== '' && sameServer(named, recorded) ? recorded : config.controlUrl
}
