import type { Command } from 'commander'
import type { Api } from './api.js'
import type { Cli } from './context.js'
import { CliError } from './errors.js'
import { formatResource } from './output.js'
import type { Policy } from '../api/types.js'

interface Simulation {
  resource: string
  evaluatedAt: string
  changes: { member: string; gained: string[]; lost: string[] }[]
  brokenTests: { failure: string }[]
  refusal?: { status: string; message: string }
}

/**
 * `--dry-run` on the policy commands: asks the server what writing `policy` would do
 * (`:simulateSetIamPolicy`) and shows who gains and loses which permission; saves nothing. When
 * the write would be refused (for whatever the write checks: a member with no account, a policy
 * test it breaks, a stale etag…) it says so and exits 1, as the write itself would.
 */
export async function showDryRun(cli: Cli, api: Api, resourcePath: string, policy: Policy, cmd: Command): Promise<void> {
  const result = await api.call<Simulation>('POST', `${resourcePath}:simulateSetIamPolicy`, { policy })
  const format = cli.format(cmd, 'table')
  if (format !== 'table') cli.print(formatResource(result, format))
  else {
    const lines = [`Dry run, nothing was saved. Effect on ${result.resource} (conditions evaluated at ${result.evaluatedAt}):`]
    for (const c of result.changes) {
      if (c.gained.length) lines.push(`  ${c.member} gains ${c.gained.join(', ')}`)
      if (c.lost.length) lines.push(`  ${c.member} loses ${c.lost.join(', ')}`)
    }
    if (result.changes.length === 0) lines.push('  No one gains or loses a permission.')
    cli.print(lines.join('\n') + '\n')
  }
  if (result.refusal) throw new CliError(`This change would be refused: (${result.refusal.status}) ${result.refusal.message}`, 1, result.refusal.status)
}
