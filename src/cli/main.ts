import { readFileSync } from 'node:fs'
import { Command, CommanderError } from 'commander'
import { Cli, type Io } from './context.js'
import { CliError } from './errors.js'
import { registerAuth } from './commands/auth.js'
import { registerConfig } from './commands/config.js'
import { registerGroups } from './commands/groups.js'
import { registerIam } from './commands/iam.js'
import { registerWorkforcePools } from './commands/workforce-pools.js'
import { registerLogs } from './commands/logs.js'
import { registerProjects } from './commands/projects.js'
import { registerServe } from './commands/serve.js'
import { registerServices } from './commands/services.js'
import { registerUsers } from './commands/users.js'
import { registerWhy } from './commands/why.js'
import { registerProxy } from './commands/proxy.js'

/** Builds the command tree. Each command group lives in its own file under commands/. */
export function buildProgram(cli: Cli): Command {
  const program = new Command('postern')
    .description('Keep HTTP services private; let exactly the right developers, service accounts and federated users call them.')
    .option('--project <projectId>', 'the project to use (default: postern config get project)')
    .option('--format <format>', 'output format: yaml, json or table')
    .option('--quiet', 'no status messages; never prompt')
    .version(`postern ${packageVersion()}`, '--version', 'print the version')
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeOut: cli.io.stdout, writeErr: cli.io.stderr })
  registerServe(program, cli)
  registerConfig(program, cli)
  registerAuth(program, cli)
  registerProjects(program, cli)
  const services = registerServices(program, cli)
  registerWhy(services, cli)
  registerProxy(services, cli)
  registerWorkforcePools(registerIam(program, cli), cli)
  registerUsers(program, cli)
  registerGroups(program, cli)
  registerLogs(program, cli)
  for (const cmd of allCommands(program)) cmd.exitOverride().configureOutput({ writeOut: cli.io.stdout, writeErr: cli.io.stderr })
  return program
}

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string }
  return pkg.version ?? 'unknown'
}

function* allCommands(cmd: Command): Generator<Command> {
  yield cmd
  for (const sub of cmd.commands) yield* allCommands(sub)
}

/** Runs the CLI and returns the exit code: 0, 1 (the server or the input said no) or 2 (usage). */
export async function run(argv: string[], io: Io): Promise<number> {
  const cli = new Cli(io)
  try {
    await buildProgram(cli).parseAsync(argv, { from: 'user' })
    return 0
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0
      return 2
    }
    if (err instanceof CliError) {
      io.stderr(err.message.endsWith('\n') ? err.message : err.message + '\n')
      return err.exitCode
    }
    io.stderr(`ERROR: ${(err as Error).message ?? String(err)}\n`)
    return 1
  }
}
