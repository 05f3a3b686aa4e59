import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { findSignIn, parseCredentials, type SignIn } from '../../src/core/cli-credentials.js'

/**
 * The CLI's sign-ins in CONFIG_DIR/credentials.json, read as the CLI reads them (one per server
 * and account; a file of the previous version, keyed by email, as migrated).
 */
export function storedSignIns(configDir: string): SignIn[] {
  return parseCredentials(JSON.parse(readFileSync(join(configDir, 'credentials.json'), 'utf8'))).signIns
}

/** The sign-in of `account` (at `server`, when the CLI holds it at several). */
export function storedSignIn(configDir: string, account: string, server?: string): SignIn {
  const signIns = storedSignIns(configDir)
  const found = server === undefined ? signIns.filter((s) => s.account === account) : [findSignIn({ signIns }, server, account)].filter((s) => s !== undefined)
  if (found.length !== 1) throw new Error(`${found.length} sign-ins of ${account}${server ? ` at ${server}` : ''} in ${configDir}`)
  return found[0]!
}

/** Rewrites every sign-in (as a test that moves the server they came from), in this version's shape. */
export function rewriteSignIns(configDir: string, change: (s: SignIn) => SignIn): void {
  const signIns = storedSignIns(configDir).map(change)
  writeFileSync(join(configDir, 'credentials.json'), JSON.stringify({ signIns }), { mode: 0o600 })
}
