import type { CliConfig, ConfigFiles } from '../core/cli-config-files.js'
import { sameServer, type SignIn } from '../core/cli-credentials.js'

/**
 * What to say when the account a command runs as is signed in, but not at the server the CLI now
 * talks to: sign in there, or go back to a server it is signed in at. Going back is switching to
 * the configuration that talks to that server as this account, when there is one (`config set
 * server` would instead repoint this configuration, which was meant to talk to the new server);
 * else repointing this configuration.
 */
export function signedInElsewhere(
  files: ConfigFiles,
  serverOf: (config: CliConfig) => string,
  o: { account: string; server: string; others: readonly SignIn[] },
): string {
  const there = o.others.every((s) => s.type === 'service_account') ? `activate a key of that server's (postern auth activate-service-account --key-file FILE)` : 'sign in there (postern auth login)'
  const current = files.configuration()
  const configs = files.configurations().filter((name) => name !== current).map((name) => ({ name, config: readQuietly(files, name) }))
  const ways = o.others.map((s) => {
    // Only one that runs as this account there: another account's would answer as someone else.
    const best = configs.find((c) => c.config?.account === o.account && sameServer(serverOf(c.config), s.server))
    return best ? `postern config configurations activate ${best.name}, or --configuration ${best.name} for one command` : `postern config set server ${s.server}`
  })
  const from = o.others.length === 1 ? `the Postern at ${o.others[0]!.server}` : `the Posterns at ${o.others.map((s) => s.server).join(' and ')}`
  return `The credentials of ${o.account} are from ${from}, and the CLI now talks to ${o.server}: ${there}, or go back (${ways.join('; or ')}). Nothing was sent.`
}

/** A configuration's properties, or undefined for one removed or broken meanwhile (advice is no reason to fail twice). */
function readQuietly(files: ConfigFiles, name: string): CliConfig | undefined {
  try {
    return files.readConfig(name)
  } catch {
    return undefined
  }
}
