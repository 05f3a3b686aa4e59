import { readFileSync } from 'node:fs'
import { Command, CommanderError, Option } from 'commander'
import { Cli, type Io } from './context.js'
import { CliError, usageError } from './errors.js'
import { explainGcloudOnlyCommand, explainGcloudOnlyOption, insteadOfGcloudOption, suggestForGcloudGroup, suggestForPropertyEquals, suggestOption } from './suggestions.js'
import { registerAccessRequests } from './commands/access-requests.js'
import { registerAccessTests } from './commands/access-tests.js'
import { registerAuth } from './commands/auth.js'
import { registerConfig } from './commands/config.js'
import { configurationName } from './commands/config-configurations.js'
import { registerGroups } from './commands/groups.js'
import { registerIam } from './commands/iam.js'
import { registerWorkforcePools } from './commands/workforce-pools.js'
import { registerLogs } from './commands/logs.js'
import { registerOrganizations } from './commands/organizations.js'
import { registerProjects } from './commands/projects.js'
import { registerServe } from './commands/serve.js'
import { registerNginxConfig } from './commands/nginx-config.js'
import { registerServices } from './commands/services.js'
import { registerUsers } from './commands/users.js'
import { registerWhy } from './commands/why.js'
import { registerProxy } from './commands/proxy.js'
import { registerMetadataServer } from './commands/metadata-server.js'
import { registerVersion } from './commands/version.js'
import { closest } from '../core/closest.js'
import { helpRequest, splitGlobalFlags } from './help-words.js'
import { parseFormat, TABLE_FOR_ONE } from './output.js'
import { printsList } from './list-flags.js'
import { traceHttp } from './http-trace.js'
import { VERBOSITIES, showsErrors, type Verbosity } from './verbosity.js'
import { UnknownOptionsFirst } from './unknown-options-first.js'
import { emptyFlagValue } from './empty-flag-values.js'

/** Builds the command tree. Each command group lives in its own file under commands/. */
export function buildProgram(cli: Cli): Command {
  const version = packageVersion()
  const program = new UnknownOptionsFirst('postern')
    .description('Keep HTTP services private; let exactly the right developers, service accounts and federated users call them.')
    .option('--project <projectId>', 'the project to use (default: postern config get project)')
    .option('--format <format>', "output format: yaml, json, table, none (nothing on stdout), or only these fields as value(FIELD,…), table(FIELD,…), csv(FIELD,…), json(FIELD,…) or yaml(FIELD,…); [no-heading] on csv and table, e.g. --format='value(status.url)', --format='csv[no-heading](metadata.name,uri)'")
    .option('-q, --quiet', 'no status messages; never prompt')
    .option('--impersonate-service-account <email>', 'make every API call of the command as this service account, with an access token the active account asks for (it needs roles/iam.serviceAccountTokenCreator on it); also the property auth/impersonate_service_account')
    .option('--configuration <name>', 'the named configuration to use for this command (default: POSTERN_ACTIVE_CONFIG_NAME, else the active one)')
    .option('--log-http', "print each HTTP request the CLI makes and its status on stderr, as --verbosity=debug does (gcloud's --log-http): method and URL, never a header or a body, where tokens travel")
    .addOption(new Option('--verbosity <level>', 'how much to say on stderr, as gcloud: debug adds each HTTP request made (method and URL); error leaves out warnings; critical and none leave out errors too (the exit code still says)').choices(VERBOSITIES))
    .version(`postern ${version}`, '--version', 'print the version')
    .exitOverride()
  registerServe(program, cli)
  registerNginxConfig(program, cli)
  registerConfig(program, cli)
  registerAuth(program, cli)
  registerOrganizations(program, cli)
  registerProjects(program, cli)
  const services = registerServices(program, cli)
  registerWhy(services, cli)
  registerProxy(services, cli)
  registerAccessRequests(program, services, cli)
  registerAccessTests(program, cli)
  registerWorkforcePools(registerIam(program, cli), cli)
  registerUsers(program, cli)
  registerGroups(program, cli)
  registerLogs(program, cli)
  registerMetadataServer(program, cli)
  registerVersion(program, cli, version)
  for (const cmd of allCommands(program)) {
    // A usage error says what was wrong and where the help is, rather than printing all of it.
    cmd.exitOverride().showHelpAfterError(`Run '${commandPath(cmd)} --help' for usage.`).configureOutput({
      writeOut: cli.io.stdout,
      writeErr: cli.io.stderr,
      outputError: (text, write) => write(asError(withSuggestion(text, cmd))),
    })
  }
  return program
}

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string }
  return pkg.version ?? 'unknown'
}

function commandPath(cmd: Command): string {
  const names: string[] = []
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name())
  return names.join(' ')
}

/** Every failure's message begins `ERROR: `, as gcloud's do, whoever raised it (commander writes `error: `). */
function asError(text: string): string {
  return text.startsWith('ERROR: ') ? text : `ERROR: ${text.replace(/^error: /, '')}`
}

function withSuggestion(text: string, cmd: Command): string {
  // Commander may have added a suggestion of its own by spelling (`--region` → `--version`): ours
  // replace it when there are any.
  const line = /^error: unknown option '([^']+)'\n/.exec(text)
  if (!line) return text
  const [error, unknown] = [line[0], line[1]!]
  const flags = [...cmd.options, ...(cmd.parent ? allAncestorOptions(cmd.parent) : [])].flatMap((o) => (o.long ? [{ long: o.long, takesValue: o.required || o.optional }] : []))
  const why = explainGcloudOnlyOption(unknown) ?? insteadOfGcloudOption(unknown)
  if (why) return `${error}(${why})\n`
  // By spelling too, for --flag=value, which commander measures whole (--fromat=json is far from --format).
  const suggestion = suggestOption(unknown, flags) ?? closest(unknown.replace(/=.*$/s, ''), flags.map((f) => f.long))
  return suggestion ? `${error}(Did you mean ${suggestion}?)\n` : text
}

function allAncestorOptions(cmd: Command): Command['options'] {
  return [...cmd.options, ...(cmd.parent ? allAncestorOptions(cmd.parent) : [])]
}

function* allCommands(cmd: Command): Generator<Command> {
  yield cmd
  for (const sub of cmd.commands) yield* allCommands(sub)
}

/** Runs the CLI and returns the exit code: 0, 1 (the server or the input said no) or 2 (usage). */
export async function run(argv: string[], io: Io): Promise<number> {
  const cli = new Cli(io)
  const program = buildProgram(cli)
  // `postern --project p run services list` too: the global flags typed first stay first.
  const { first } = splitGlobalFlags(argv, program)
  const gcloudish = suggestForGcloudGroup(argv.slice(first), program.commands.map((c) => c.name()), argv.slice(0, first))
  if (gcloudish) {
    const groups = argv.slice(first, first + 2).filter((w) => w === 'run' || w === 'alpha' || w === 'beta').map((w) => `'${w}'`)
    io.stderr(`ERROR: postern has no ${groups.join(' or ')} group: gcloud's '${groups.map((g) => g.slice(1, -1)).join(' ')} services …' commands are 'postern services …' here. Did you mean:\n  ${gcloudish}\n`)
    return 2
  }
  const instead = explainGcloudOnlyCommand(argv.slice(first), argv.slice(0, first))
  if (instead) {
    io.stderr(`ERROR: ${instead}\n`)
    return 2
  }
  const property = suggestForPropertyEquals(argv.slice(first), argv.slice(0, first))
  if (property) {
    io.stderr(`ERROR: config set takes the property and its value as two words, as gcloud does. Did you mean:\n  ${property}\n`)
    return 2
  }
  // --verbosity=debug (or --log-http) traces the requests a command makes; a server's are not the CLI's (serve --access-log).
  let untrace = () => {}
  // Known once the command line has parsed: commander's own usage errors come before it (verbosity.ts).
  let verbosity: Verbosity = 'warning'
  program.hook('preAction', (_program, action) => {
    verbosity = cli.verbosity(action)
    const empty = emptyFlagValue(cli.globals(action), action.name())
    if (empty) throw usageError(empty)
    // A --format that cannot be printed is refused before the command does anything: refused when
    // printing, it came after the change was made, and after a result shown only once (a password).
    // So is a bare table for a command that prints one resource (or none), which formatResource
    // would refuse only once the change is made.
    const format = cli.globals(action).format
    if (format !== undefined && parseFormat(format, 'yaml') === 'table' && !printsList(action)) throw usageError(TABLE_FOR_ONE)
    if (action.name() !== 'serve' && (verbosity === 'debug' || cli.globals(action).logHttp)) untrace = traceHttp(io.stderr)
    // gcloud's --configuration and CLOUDSDK_ACTIVE_CONFIG_NAME: a configuration for this command only.
    const chosen = cli.globals(action).configuration ?? io.env.POSTERN_ACTIVE_CONFIG_NAME
    if (chosen !== undefined && chosen !== '') cli.files.useConfiguration(configurationName(chosen))
    const impersonated = cli.impersonated(action)
    if (impersonated !== undefined) cli.impersonate(impersonated, action)
  })
  const sayError = (text: string) => {
    if (showsErrors(verbosity)) io.stderr(text)
  }
  try {
    await program.parseAsync(helpRequest(argv, program) ?? argv, { from: 'user' })
    return 0
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || (err.code === 'commander.help' && err.exitCode === 0)) return 0
      // A group named without its command (`postern services`): its help, on stderr, and a usage
      // error, as gcloud's "Command name argument expected." (exit 2).
      if (err.code === 'commander.help') io.stderr('ERROR: a command name is expected (see above).\n')
      return 2
    }
    if (err instanceof CliError) {
      sayError(asError(err.message.endsWith('\n') ? err.message : err.message + '\n'))
      return err.exitCode
    }
    sayError(`ERROR: ${(err as Error).message ?? String(err)}\n`)
    return 1
  } finally {
    untrace()
  }
}
