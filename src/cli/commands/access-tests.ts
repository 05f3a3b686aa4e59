import type { Command } from 'commander'
import type { Cli } from '../context.js'
import { CliError } from '../errors.js'
import { formatResource } from '../output.js'
import { servicePath } from './services.js'
import { readDocument } from '../read-document.js'

interface TestResults {
  resource: string
  evaluatedAt: string
  results: { test: { member: string; permission: string; expect: string }; result: 'PASS' | 'FAIL'; failure?: string }[]
}

/**
 * Policy tests (DESIGN §9): `postern services|projects set-access-tests NAME FILE.yaml` and
 * `postern services|projects test-access NAME`. A file is a YAML (or JSON) list of entries such as
 * `{member: user:bob@example.com, permission: run.routes.invoke, expect: deny}`, or the same list
 * under `tests:`.
 */
export function registerAccessTests(program: Command, cli: Cli): void {
  const services = program.commands.find((c) => c.name() === 'services')!
  const projects = program.commands.find((c) => c.name() === 'projects')!
  register(services, cli, 'service', (name, cmd) => servicePath(() => cli.project(cmd), name))
  register(projects, cli, 'project', (name) => `/v1/projects/${encodeURIComponent(name)}`)
}

function register(group: Command, cli: Cli, noun: string, path: (name: string, cmd: Command) => string): void {
  group
    .command(`set-access-tests <${noun}> <file>`)
    .description(`Replace the ${noun}'s policy tests with those in a YAML file; every later policy change that breaks one is refused. An empty list removes them.`)
    .action(async (name: string, file: string, _o, cmd: Command) => {
      const tests = readTestsFile(file)
      const result = await cli.api().call<TestResults>('POST', `${path(name, cmd)}:setAccessTests`, { tests })
      cli.status(
        result.results.length
          ? `Set ${result.results.length} access test${result.results.length === 1 ? '' : 's'} on ${noun} [${name}]; all hold now (conditions evaluated at ${result.evaluatedAt}).`
          : `Removed the access tests of ${noun} [${name}].`,
        cmd,
      )
      print(cli, result, cmd)
    })

  group
    .command(`test-access <${noun}>`)
    .description(`Run the ${noun}'s policy tests now (exit 1 if one fails).`)
    .action(async (name: string, _o, cmd: Command) => {
      const result = await cli.api().call<TestResults>('POST', `${path(name, cmd)}:runAccessTests`, {})
      if (result.results.length === 0) cli.status(`${result.resource} has no access tests; add some with: postern ${group.name()} set-access-tests ${name} FILE.yaml`, cmd)
      print(cli, result, cmd)
      const failed = result.results.filter((r) => r.result === 'FAIL').length
      if (failed) throw new CliError(`ERROR: ${failed} of ${result.results.length} access tests of ${result.resource} failed.`)
    })
}

function print(cli: Cli, result: TestResults, cmd: Command): void {
  const format = cli.format(cmd, 'table')
  if (format !== 'table') {
    cli.print(formatResource(result, format))
    return
  }
  if (result.results.length === 0) return
  const lines = [`Access tests of ${result.resource} (conditions evaluated at ${result.evaluatedAt}):`]
  for (const r of result.results) {
    lines.push(`${r.result}  {member: ${r.test.member}, permission: ${r.test.permission}, expect: ${r.test.expect}}`)
    if (r.failure) lines.push(`      ${r.failure}`)
  }
  cli.print(lines.join('\n') + '\n')
}

function readTestsFile(file: string): unknown[] {
  let value = readDocument(file)
  // An empty file is more likely a mistake than a wish to drop every test: that takes an explicit [].
  if (value === null || value === undefined) throw new CliError(`${file} is empty; to remove every access test, write [] in it.`)
  if (typeof value === 'object' && !Array.isArray(value) && 'tests' in value) value = (value as { tests: unknown }).tests
  if (!Array.isArray(value)) {
    throw new CliError(`${file} must hold a list of tests, e.g.\n- {member: user:bob@example.com, permission: run.routes.invoke, expect: deny}\n- {member: group:oncall@example.com, expect: allow}`)
  }
  return value
}
