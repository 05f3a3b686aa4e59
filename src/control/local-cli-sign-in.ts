import { ConfigFiles, type CliConfig } from '../core/cli-config-files.js'
import { putSignIn, sameServer, signInsOf, type Credentials } from '../core/cli-credentials.js'
import type { ServeConfig } from '../core/config.js'
import type { Store } from '../store/store.js'
import { ownerRefreshToken } from './bootstrap.js'

/**
 * How the local CLI came out of a start: signed in, in the active configuration or in another
 * that talks to this server (which the user switches to); or not, because the active one talks
 * to another server, whose configuration this start does not take over.
 */
export type LocalCliSignIn =
  | { kind: 'signed-in'; configuration: string; active: boolean }
  | { kind: 'elsewhere'; configuration: string; server: string }
  | { kind: 'left-alone' }

/**
 * Signs a CLI on this machine in as the owner, so `postern services list` works at once (DESIGN
 * §2): on the first start, and after `--reset-owner-password` when the configuration has no
 * account or is the owner (whose refresh token the reset has just ended). The sign-in is this
 * server's own (cli-credentials.ts): the same email signed in at another Postern keeps its
 * credentials. Only a configuration that talks to this server, or to none yet, is signed in: the
 * active one if it does, else another that names this server (as the owner's email, or no account).
 * One that talks to another server is left as it is (the person meant it), and the caller says
 * what to type (commandsToSignIn).
 */
export async function signInLocalCli(
  config: ServeConfig,
  controlUrl: string,
  owner: { email: string; uid: string; onlyReplacing?: 'owner' },
  store: Store,
  clock: () => number,
  out: { stdout: (s: string) => void },
): Promise<LocalCliSignIn> {
  const files = new ConfigFiles(config.cliConfigDir)
  const active = files.configuration()
  // An active configuration removed by hand: the CLI says so at its next command; not this start's business.
  if (!files.configurationExists(active)) return { kind: 'left-alone' }
  const credentials = files.readCredentials()
  const accepts = (c: CliConfig) => talksHere(c, controlUrl, credentials) && (!owner.onlyReplacing || c.account === undefined || c.account === owner.email)
  const current = files.readConfig(active)
  const target = accepts(current)
    ? active
    : files.configurations().find((name) => {
        if (name === active) return false
        const c = files.readConfig(name)
        return c.server !== undefined && (c.account === undefined || c.account === owner.email) && accepts(c)
      })
  if (target === undefined) {
    if (owner.onlyReplacing) return { kind: 'left-alone' }
    const server = current.server ?? signInsOf(credentials, current.account ?? '')[0]?.server ?? ''
    out.stdout(`The postern CLI (config in ${config.cliConfigDir}) is not signed in here: its configuration [${active}] talks to ${server}, and is left as it is.\n`)
    return { kind: 'elsewhere', configuration: active, server }
  }
  const refreshToken = await ownerRefreshToken(store, owner.uid, clock())
  await files.withLock(async () => {
    const fresh = files.readCredentials()
    putSignIn(fresh, { account: owner.email, type: 'user', server: controlUrl, refreshToken })
    files.writeCredentials(fresh)
    const before = files.readConfig(target)
    // A first start names its project; a reset keeps the project the CLI was using.
    const project = owner.onlyReplacing ? (before.project ?? config.project) : config.project
    files.writeConfig({ ...before, server: controlUrl, project, account: owner.email }, target)
  })
  const where = target === active ? '' : ` in its configuration [${target}], which talks to this server (the active one, [${active}], talks to another)`
  out.stdout(`The postern CLI (config in ${config.cliConfigDir}) is signed in as ${owner.email}${where}.\n`)
  return { kind: 'signed-in', configuration: target, active: target === active }
}

/**
 * Whether a configuration talks to this server, or to none yet: one with no server and no account
 * (a fresh CLI, a new configuration), or no server and an account signed in nowhere else.
 */
function talksHere(c: CliConfig, controlUrl: string, credentials: Credentials): boolean {
  if (c.server !== undefined) return sameServer(c.server, controlUrl)
  if (c.account === undefined) return true
  return signInsOf(credentials, c.account).every((s) => sameServer(s.server, controlUrl))
}

/**
 * What to type before the CLI works with this server, when the start left it as it was: a
 * configuration of its own (the active one stays the other server's), then a sign-in (as the
 * owner, with the password printed once). Empty when it is ready.
 */
export function commandsToSignIn(outcome: LocalCliSignIn, controlUrl: string, configDir: string): string[] {
  if (outcome.kind === 'signed-in') return outcome.active ? [] : [`postern config configurations activate ${outcome.configuration}`]
  if (outcome.kind === 'left-alone') return []
  const files = new ConfigFiles(configDir)
  const base = `local-${new URL(controlUrl).port || 'postern'}`
  let name = base
  for (let n = 2; files.configurationExists(name); n++) name = `${base}-${n}`
  return [`postern config configurations create ${name}`, `postern config set server ${controlUrl}`, 'postern auth login']
}
