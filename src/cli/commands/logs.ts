import type { Command } from 'commander'
import type { Cli } from '../context.js'
import { usageError } from '../errors.js'

interface Entry {
  time: string
  principal: string
  method: string
  resource: string
  outcome: string
  count?: number
}

export function registerLogs(program: Command, cli: Cli): void {
  const logs = program.command('logs').description('The audit log.')
  logs
    .command('read')
    .description('Read the newest audit-log entries.')
    .option('--limit <n>', 'how many entries', '50')
    .option('--resource <name>', 'only entries about this resource')
    .option('--principal <member>', 'only entries by this principal')
    .option('--outcome <outcome>', 'only entries with this outcome: OK, PERMISSION_DENIED, UNAUTHENTICATED (failed sign-ins), RESOURCE_EXHAUSTED')
    .action(async (o: { limit: string; resource?: string; principal?: string; outcome?: string }, cmd: Command) => {
      if (!/^\d+$/.test(o.limit) || Number(o.limit) < 1) throw usageError(`--limit must be a positive number, not '${o.limit}'.`)
      const query = new URLSearchParams({ pageSize: o.limit, ...(o.resource && { resource: o.resource }), ...(o.principal && { principal: o.principal }), ...(o.outcome && { outcome: o.outcome.toUpperCase() }) })
      const { entries = [] } = await cli.api().call<{ entries?: Entry[] }>('GET', `/v1/auditLogs?${query}`)
      cli.printList(cmd, entries, [
        { header: 'TIME', value: (e) => e.time },
        { header: 'PRINCIPAL', value: (e) => e.principal },
        { header: 'METHOD', value: (e) => e.method },
        { header: 'RESOURCE', value: (e) => e.resource },
        { header: 'OUTCOME', value: (e) => e.outcome },
        { header: 'COUNT', value: (e) => String(e.count ?? 1) },
      ])
    })
}
