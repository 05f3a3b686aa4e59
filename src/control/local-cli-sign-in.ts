import { ConfigFiles } from '../core/cli-config-files.js'
import type { ServeConfig } from '../core/config.js'
import type { Store } from '../store/store.js'
import { ownerRefreshToken } from './bootstrap.js'

/**
 * Signs a CLI on this machine in as the owner, so `postern services list` works at once (DESIGN
 * §2): on the first start when the CLI has no active account (or one for this server, whose store
 * has just been created), and after `--reset-owner-password` when it has none or is the owner
 * (whose refresh token the reset has just ended).
 */
export async function signInLocalCli(
  config: ServeConfig,
  controlUrl: string,
  owner: { email: string; uid: string; onlyReplacing?: 'owner' },
  store: Store,
  clock: () => number,
  out: { stdout: (s: string) => void },
): Promise<boolean> {
  const files = new ConfigFiles(config.cliConfigDir)
  // An active configuration removed by hand: the CLI says so at its next command; not this start's business.
  if (!files.configurationExists(files.configuration())) return false
  const cli = files.readConfig()
  const credentials = files.readCredentials()
  const active = cli.account ? credentials.accounts[cli.account] : undefined
  if (active && active.server !== controlUrl) return false
  if (active && owner.onlyReplacing === 'owner' && cli.account !== owner.email) return false
  const refreshToken = await ownerRefreshToken(store, owner.uid, clock())
  await files.withLock(async () => {
    const fresh = files.readCredentials()
    fresh.accounts[owner.email] = { type: 'user', server: controlUrl, refreshToken }
    files.writeCredentials(fresh)
    const current = files.readConfig()
    // A first start names its project; a reset keeps the project the CLI was using.
    const project = owner.onlyReplacing ? (current.project ?? config.project) : config.project
    files.writeConfig({ ...current, server: controlUrl, project, account: owner.email })
  })
  out.stdout(`The postern CLI (config in ${config.cliConfigDir}) is signed in as ${owner.email}.\n`)
  return true
}
