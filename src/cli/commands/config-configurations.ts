import type { Command } from 'commander'
import { CONFIGURATION_NAME, DEFAULT_CONFIGURATION, type CliConfig } from '../../core/cli-config-files.js'
import type { Cli } from '../context.js'
import { CliError, usageError } from '../errors.js'
import { withListFlags } from '../list-flags.js'

/**
 * `postern config configurations …`, as gcloud's: named sets of server, project and account, to
 * switch between Posterns (a local one and the team's) or projects with one command. Accounts and
 * their credentials are shared by every configuration, and each is still sent only to the server
 * that issued it (session.ts).
 */
export function registerConfigurations(config: Command, cli: Cli): void {
  const configurations = config.command('configurations').description('Named configurations: switch server, project and account at once.')
  configurations
    .command('create <name>')
    .description('Create a configuration, with no properties, and make it active.')
    .option('--no-activate', 'create it without making it active')
    .action(async (given: string, o: { activate: boolean }, cmd: Command) => {
      const name = configurationName(given)
      if (!cli.files.createConfiguration(name)) throw new CliError(`Cannot create configuration [${name}], it already exists.`)
      cli.status(`Created [${name}].`, cmd)
      if (o.activate) activate(cli, name, cmd)
    })
  configurations
    .command('activate <name>')
    .description('Make a configuration the active one.')
    .action(async (given: string, _o, cmd: Command) => {
      const name = configurationName(given)
      if (!cli.files.configurationExists(name)) throw new CliError(`Cannot activate configuration [${name}], it does not exist.`)
      activate(cli, name, cmd)
    })
  // gcloud's list flags, as its `config configurations list` takes them (and so a table).
  withListFlags(configurations.command('list'))
    .description('List the configurations, which one is active, and their properties.')
    .action(async (_o, cmd: Command) => {
      cli.printList(cmd, cli.files.configurations().map((name) => described(cli, name)), [
        { header: 'NAME', value: (c) => c.name },
        { header: 'IS_ACTIVE', value: (c) => String(c.is_active) },
        { header: 'ACCOUNT', value: (c) => c.properties.account ?? '' },
        { header: 'PROJECT', value: (c) => c.properties.project ?? '' },
        { header: 'SERVER', value: (c) => c.properties.server ?? '' },
      ])
    })
  configurations
    .command('describe <name>')
    .description("Print a configuration's properties.")
    .action(async (given: string, _o, cmd: Command) => {
      const name = configurationName(given)
      if (!cli.files.configurationExists(name)) throw new CliError(`The configuration [${name}] does not exist.`)
      cli.printResource(cmd, described(cli, name))
    })
  configurations
    .command('rename <name>')
    .description('Rename a configuration (not default); the active one stays active.')
    .requiredOption('--new-name <new-name>', 'its new name')
    .action(async (given: string, o: { newName: string }, cmd: Command) => {
      const [from, to] = [configurationName(given), configurationName(o.newName)]
      if (from === DEFAULT_CONFIGURATION || to === DEFAULT_CONFIGURATION) throw usageError('The default configuration cannot be renamed, nor another renamed to it.')
      if (!cli.files.configurationExists(from)) throw new CliError(`Cannot rename configuration [${from}], it does not exist.`)
      if (cli.files.configurationExists(to)) throw new CliError(`Cannot rename configuration [${from}] to [${to}], which exists already.`)
      cli.files.renameConfiguration(from, to)
      cli.status(`Renamed [${from}] to be [${to}].`, cmd)
    })
  configurations
    .command('delete <names...>')
    .description('Delete configurations (not default, nor the active one); accounts stay signed in.')
    .action(async (given: string[], _o, cmd: Command) => {
      const names = [...new Set(given.map(configurationName))]
      for (const name of names) {
        if (name === DEFAULT_CONFIGURATION) throw usageError('The default configuration cannot be deleted; to empty it, run: postern config unset PROPERTY')
        if (name === cli.files.activeConfiguration()) throw new CliError(`Configuration [${name}] is the active one, so it cannot be deleted. Activate another first: postern config configurations activate ${DEFAULT_CONFIGURATION}`)
        if (!cli.files.configurationExists(name)) throw new CliError(`Cannot delete configuration [${name}], it does not exist.`)
      }
      await cli.confirm(cmd, `The following configurations will be deleted:\n${names.map((n) => ` - [${n}]`).join('\n')}`)
      for (const name of names) {
        cli.files.deleteConfiguration(name)
        cli.status(`Deleted [${name}].`, cmd)
      }
    })
}

function activate(cli: Cli, name: string, cmd: Command): void {
  cli.files.activateConfiguration(name)
  cli.status(`Activated [${name}].`, cmd)
  // --configuration and POSTERN_ACTIVE_CONFIG_NAME choose for their process, over the active one.
  const chosen = cli.files.configuration()
  if (chosen !== name) cli.warn(`This command runs with configuration [${chosen}] (--configuration or POSTERN_ACTIVE_CONFIG_NAME), which still chooses over [${name}] where it is given.`, cmd)
}

/** A configuration's name as gcloud allows it: a usage error otherwise. */
export function configurationName(given: string): string {
  if (!CONFIGURATION_NAME.test(given)) throw usageError(`Invalid name [${given.replace(/\p{Cc}/gu, '?')}] for a configuration: it starts with a lowercase letter and holds only lowercase letters, digits and hyphens (64 at most).`)
  return given
}

function described(cli: Cli, name: string): { name: string; is_active: boolean; properties: CliConfig } {
  return { name, is_active: name === cli.files.activeConfiguration(), properties: cli.files.readConfig(name) }
}
