import { ConfigFiles } from '../cli/config-files.js'
import type { ServeConfig } from '../core/config.js'
import type { Store } from '../store/store.js'
import { ownerRefreshToken, type BootstrapResult } from './bootstrap.js'

/**
 * On the first start, a CLI on this machine with no active account (or one for this server,
 * whose store has just been created) is signed in as the owner, so `postern services list`
 * works at once (DESIGN §2).
 */
export async function signInLocalCli(
  config: ServeConfig,
  controlUrl: string,
  boot: BootstrapResult,
  store: Store,
  clock: () => number,
  out: { stdout: (s: string) => void },
): Promise<void> {
  if (!boot.firstStart) return
  const files = new ConfigFiles(config.cliConfigDir)
  const cli = files.readConfig()
  const credentials = files.readCredentials()
  const active = cli.account ? credentials.accounts[cli.account] : undefined
  if (active && active.server !== controlUrl) return
  const refreshToken = await ownerRefreshToken(store, boot.ownerUid, clock())
  await files.withLock(async () => {
    const fresh = files.readCredentials()
    fresh.accounts[boot.owner] = { type: 'user', server: controlUrl, refreshToken }
    files.writeCredentials(fresh)
    files.writeConfig({ ...files.readConfig(), server: controlUrl, project: config.project, account: boot.owner })
  })
  out.stdout(`The postern CLI (config in ${config.cliConfigDir}) is signed in as ${boot.owner}.\n`)
}
