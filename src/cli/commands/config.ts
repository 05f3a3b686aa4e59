import type { Command } from 'commander'
import { CONFIG_KEYS, type CliConfig } from '../../core/cli-config-files.js'
import { findSignIn, signInsOf } from '../../core/cli-credentials.js'
import { urlMeantBy } from '../../core/scheme-less.js'
import type { Cli } from '../context.js'
import { usageError } from '../errors.js'
import { registerConfigurations } from './config-configurations.js'
import { explainGcloudOnlyProperty } from '../suggestions.js'
import { PROJECT_ID, PROJECT_ID_RULE } from '../../api/project-id.js'

/** A property's name; gcloud's section prefix (core/project, auth/impersonate_service_account) is taken too. */
function key(given: string): keyof CliConfig {
  const name = given.replace(/^core\/|^auth\/(?=impersonate_service_account$)/, '')
  if ((CONFIG_KEYS as readonly string[]).includes(name)) return name as keyof CliConfig
  const why = explainGcloudOnlyProperty(name)
  if (why) throw usageError(`Unknown property '${name}': ${why} Postern's properties: ${CONFIG_KEYS.join(', ')}.`)
  throw usageError(`Unknown property '${name}'; one of: ${CONFIG_KEYS.join(', ')}.`)
}

export function registerConfig(program: Command, cli: Cli): void {
  const config = program.command('config').description('Read and change the CLI configuration (server, project, account, auth/impersonate_service_account), and its named configurations.')
  config
    .command('set <property> <value>')
    .description('Set a property.')
    .action(async (name: string, value: string, _o, cmd: Command) => {
      const k = key(name)
      checkValue(k, value)
      cli.files.writeConfig({ ...cli.files.readConfig(), [k]: k === 'server' ? value.replace(/\/$/, '') : value })
      cli.status(`Updated property [${k}].`, cmd)
      // Kept whatever is found, as gcloud keeps it; a warning now saves a puzzling error later.
      const doubt = k === 'account' ? unknownAccount(cli, value) : k === 'project' ? await inaccessibleProject(cli, value) : undefined
      if (doubt && !cli.quiet(cmd)) cli.warn(doubt, cmd)
    })
  config
    .command('get <property>')
    .alias('get-value')
    .description('Print a property (get-value, as gcloud names it, too).')
    .action(async (name: string) => {
      const property = key(name)
      // The server the CLI talks to when none is set (as config list shows it); any other unset
      // property is "(unset)" on stderr, as gcloud says it, and nothing on stdout for scripts.
      const value = property === 'server' ? cli.server() : cli.files.readConfig()[property]
      if (value === undefined) cli.io.stderr('(unset)\n')
      else cli.print(`${value}\n`)
    })
  config
    .command('unset <property>')
    .description('Remove a property.')
    .action(async (name: string, _o, cmd: Command) => {
      const current = cli.files.readConfig()
      delete current[key(name)]
      cli.files.writeConfig(current)
      cli.status(`Unset property [${name}].`, cmd)
    })
  config
    .command('list')
    .description('Print every property.')
    .action(async (_o, cmd: Command) => {
      cli.printResource(cmd, { server: cli.server(), ...cli.files.readConfig() })
      cli.status(`\nYour active configuration is: [${cli.files.configuration()}]`, cmd)
    })
  registerConfigurations(config, cli)
}

/**
 * A value that can never work is refused when it is set, not at every command after: an empty
 * one (`config set account ""` left every command saying "You are not signed in"; removing a
 * property is `config unset`), a server that is not an http(s) URL, and a project id that breaks
 * the rule (DESIGN §1) — checked here too because the server, asked below, may not be there.
 */
function checkValue(k: keyof CliConfig, value: string): void {
  if (value.trim() === '') throw usageError(`${k}: a value is needed; to remove the property, run: postern config unset ${k}`)
  if (k === 'server') {
    try {
      const url = new URL(value)
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error()
    } catch {
      const meant = urlMeantBy(value)
      throw usageError(meant ? `server: '${value}' names no scheme: give ${meant} (or https://…).` : `server: expected a URL such as http://127.0.0.1:7070, got '${value}'.`)
    }
  }
  if (k === 'impersonate_service_account' && !/^[^\s@]+@[^\s@]+$/.test(value)) throw usageError(`impersonate_service_account: expected a service account's email, such as robot@my-project.iam.postern.internal, got '${value.replace(/\p{Cc}/gu, '?')}'.`)
  // In the API's words for a bad id; no control character from the command line reaches the terminal.
  if (k === 'project' && !PROJECT_ID.test(value)) throw usageError(`Invalid project id '${value.replace(/\p{Cc}/gu, '?')}': ${PROJECT_ID_RULE}.`)
}

/** An account with no sign-in at this configuration's server (it may have some at others, whose tokens are theirs alone). */
function unknownAccount(cli: Cli, account: string): string | undefined {
  const credentials = cli.files.readCredentials()
  const server = cli.server()
  if (findSignIn(credentials, server, account)) return undefined
  const others = signInsOf(credentials, account).map((s) => s.server)
  if (others.length > 0) return `[${account}] is signed in at ${others.join(' and ')}, not at ${server}, the server of this configuration: sign in here as it (postern auth login), or see the accounts and their servers (postern auth list).`
  return `There are no credentials for [${account}] here: sign in as it (postern auth login), or see the accounts that have them (postern auth list).`
}

/** gcloud's warning for a project one cannot open; silent when the CLI cannot ask (not signed in, no server). */
async function inaccessibleProject(cli: Cli, project: string): Promise<string | undefined> {
  try {
    await cli.api().call('GET', `/v1/projects/${encodeURIComponent(project)}`)
    return undefined
  } catch (err) {
    const status = (err as { status?: string }).status
    if (status !== 'NOT_FOUND' && status !== 'PERMISSION_DENIED' && status !== 'INVALID_ARGUMENT') return undefined
    return `You do not appear to have access to project [${project}] or it does not exist.`
  }
}
