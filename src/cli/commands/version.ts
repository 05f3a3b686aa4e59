import type { Command } from 'commander'
import type { Cli } from '../context.js'

/**
 * `postern version`, typed by gcloud's habit (`gcloud version`): the line --version prints. gcloud
 * adds its components' versions; Postern has none (the console is built in), so there is nothing
 * more to say. With --format, one resource, as `gcloud version --format=json` gives one:
 * `{"postern": "0.1.0"}`, and `--format='value(postern)'` the bare number.
 */
export function registerVersion(program: Command, cli: Cli, version: string): void {
  program
    .command('version')
    .description('Print the version, as --version does.')
    .action((_o, cmd: Command) => {
      if (cli.globals(cmd).format === undefined) cli.print(`postern ${version}\n`)
      else cli.printResource(cmd, { postern: version })
    })
}
