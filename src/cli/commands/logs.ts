import type { Command } from 'commander'
import type { Cli } from '../context.js'
import { pagesWanted, withListFlags, type ListShape } from '../list-flags.js'
import { collectPages } from '../pages.js'

interface Entry {
  time: string
  principal: string
  method: string
  resource: string
  outcome: string
  count?: number
}

/** GET /v1/auditLogs answers at most this many entries a page. */
const MAX_PAGE_SIZE = 1000

export function registerLogs(program: Command, cli: Cli): void {
  const logs = program.command('logs').description('The audit log.')
  // Its own --limit (50 newest by default), which the server's pages apply; gcloud's other list flags besides.
  withListFlags(logs.command('read'), { limit: false, maxPageSize: MAX_PAGE_SIZE })
    .description('Read the newest audit-log entries.')
    .option('--limit <n>', 'how many entries (or unlimited); after --filter and --sort-by, as gcloud applies it', '50')
    .option('--resource <name>', 'only entries about this resource')
    .option('--principal <member>', 'only entries by this principal')
    .option('--outcome <outcome>', 'only entries with this outcome: OK, PERMISSION_DENIED, UNAUTHENTICATED (failed sign-ins), RESOURCE_EXHAUSTED')
    .action(async (o: ListShape & { resource?: string; principal?: string; outcome?: string }, cmd: Command) => {
      // The API answers at most 1000 entries a page (it took --limit as one page, so --limit=2000 printed 1000).
      // --filter is applied to each page as it comes, --sort-by to the whole log (pagesWanted).
      const filters = { ...(o.resource && { resource: o.resource }), ...(o.principal && { principal: o.principal }), ...(o.outcome && { outcome: o.outcome.toUpperCase() }) }
      const api = cli.api()
      const entries = await collectPages<Entry>(async (size, pageToken) => {
        const query = new URLSearchParams({ pageSize: String(size), ...(pageToken !== undefined && { pageToken }), ...filters })
        const page = await api.call<{ entries?: Entry[]; nextPageToken?: string }>('GET', `/v1/auditLogs?${query}`)
        return { items: page.entries ?? [], nextPageToken: page.nextPageToken }
      }, pagesWanted(o, MAX_PAGE_SIZE))
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
