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

/** The control URL the server of this data directory last noted, if any (read before a start notes its own). */
export function recordedControlUrl(dataDir: string): string | undefined {
  try {
    return readFileSync(join(dataDir, CONTROL_URL_FILE), 'utf8').trim() || undefined
  } catch {
    return undefined
  }
}

/**
 * What to say when this start moved the installation's control URL and the local CLI still
 * talks to the old one: one line naming the commands that point it here and sign it in there. The server does not
 * rewrite the configuration itself: it signs the CLI in only on a first start (README), and the
 * person may mean the old address still (another server there now, an SSH tunnel).
 */
export function movedServerHint(cliConfigDir: string, previous: string | undefined, now: string): string | undefined {
  if (previous === undefined || sameServer(previous, now)) return undefined
  let named: string | undefined
  try {
    named = new ConfigFiles(cliConfigDir).readConfig().server
  } catch {
    return undefined
  }
  if (named === undefined || !sameServer(named, previous)) return undefined
  return `The postern CLI (config in ${cliConfigDir}) talks to ${previous}, where this server was before; to talk to it here, run: postern config set server ${now} && postern auth login (a sign-in belongs to the address it was made at)`
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
