import type { Command } from 'commander'
import { usageError } from './errors.js'
import { flattenRecords, parseFlatten } from './flatten.js'
import { compare, parseFilter, scalars } from './list-filter.js'
import { KEY_NAME, project } from './output.js'

/** What gcloud's list flags ask of a list, applied in gcloud's order: --flatten, --sort-by, --filter, --limit. */
export interface ListShape {
  flatten?: string
  filter?: string
  sortBy?: string
  limit?: string
  /** How many items per request; a list that arrives in one answer only checks it. */
  pageSize?: string
  /** gcloud's --uri: each item's URL alone, one a line (a list whose items have one). */
  uri?: boolean
}

/**
 * Whether a command prints a list, which a bare --format=table can lay out: every list command
 * takes gcloud's list flags (withListFlags; `logs read` with a --limit of its own). Any other
 * prints one resource or none, and is refused a bare table before it runs (main.ts).
 */
export function printsList(cmd: Command): boolean {
  return cmd.options.some((o) => o.long === '--filter' || o.long === '--limit')
}

/**
 * Adds gcloud's list flags to a list command: `--filter`, `--sort-by`, `--page-size`, unless the
 * command has a `--limit` of its own that the server applies, `--limit`, and with `flatten`,
 * `--flatten` (flatten.ts). Their values are checked before the command runs, so a mistyped filter
 * never waits on the server. Most APIs behind these commands answer with the whole list at once,
 * so `--page-size` (gcloud's "the default is unlimited (no paging)" when a service does not page)
 * is accepted and changes nothing; `--limit` cuts what is printed. A list whose API pages
 * (`maxPageSize`, its largest page) fetches its pages with collectPages and pagesWanted. With
 * `uri` (what an item's URL is, for the help), `--uri` too: the command passes printList the URL.
 */
export function withListFlags(cmd: Command, o: { limit?: boolean; flatten?: boolean; maxPageSize?: number; uri?: string } = {}): Command {
  if (o.flatten) cmd.option('--flatten <keys>', "one record per item of these lists, e.g. --flatten='bindings[].members' (then --filter and --format see one member at a time)")
  cmd
    .option('--filter <expression>', "list only the items for which EXPRESSION is true: key:pattern, key=value, key!=value, key~regex, <, >, NOT, AND, OR, e.g. --filter='metadata.name:api'")
    .option('--sort-by <fields>', 'sort by these fields, comma-separated; ~FIELD sorts descending, e.g. --sort-by=~createTime')
  if (o.limit !== false) cmd.option('--limit <n>', 'list at most N items (or unlimited, the default)')
  cmd.option('--page-size <n>', o.maxPageSize === undefined
    ? 'items per request to the server, as gcloud; this list comes in one answer, so it changes nothing'
    : `items per request to the server (at most ${o.maxPageSize}, its limit)`)
  if (o.uri !== undefined) cmd.option('--uri', `print ${o.uri} alone, one a line, instead of the list (after --filter, --sort-by and --limit)`)
  return cmd.hook('preAction', (_self, action) => {
    const flags = action.opts<ListShape>()
    if (flags.pageSize !== undefined) parseCount('--page-size', flags.pageSize)
    shapeRecords([], flags)
  })
}

/** A count flag as gcloud's (BoundedInt(1, …, unlimited=True)): a positive whole number, or `unlimited`. */
export function parseCount(flag: string, text: string): number {
  if (text === 'unlimited') return Infinity
  if (/^\d+$/.test(text) && Number(text) > 0) return Number(text)
  throw usageError(`${flag} must be a positive number, not '${text}'.`)
}

/**
 * How many items to fetch from a list that pages, and how many a request: --limit's worth, unless
 * --sort-by must see the whole list first (gcloud applies --limit after it). With --filter alone,
 * `keep` is the filter: pages are fetched until --limit items pass it, not the whole list. It
 * sees an item as the API gives it, as printList's filter does for a list without projected fields.
 */
export function pagesWanted(flags: ListShape, maxPageSize: number): { limit: number; pageSize: number; keep?: (item: unknown) => boolean } {
  const limit = flags.sortBy !== undefined || flags.limit === undefined ? Infinity : parseCount('--limit', flags.limit)
  const pageSize = flags.pageSize === undefined ? Infinity : parseCount('--page-size', flags.pageSize)
  return { limit, pageSize: Math.min(pageSize, maxPageSize), ...(flags.filter !== undefined && { keep: parseFilter(flags.filter) }) }
}

/** Whether any list flag was given: a command that prints one resource then prints records. */
export function listFlagsGiven(flags: ListShape): boolean {
  return [flags.flatten, flags.filter, flags.sortBy, flags.limit].some((f) => f !== undefined)
}

/** Records as --flatten makes them from `records`, then sorted, filtered and cut as the other flags say. */
export function shapeRecords(records: readonly unknown[], flags: ListShape): unknown[] {
  const flattened = flags.flatten === undefined ? records : flattenRecords(records, parseFlatten(flags.flatten))
  return shapeList(flattened, flags)
}

/** The rows to print: sorted, filtered and cut as the flags say; `seen` is a row as fields name it. */
export function shapeList<T>(rows: readonly T[], flags: ListShape, seen: (row: T) => unknown = (r) => r): T[] {
  const limit = flags.limit === undefined ? Infinity : parseCount('--limit', flags.limit)
  const keys = flags.sortBy === undefined ? [] : sortKeys(flags.sortBy)
  const keep = flags.filter === undefined ? () => true : parseFilter(flags.filter)
  const views = rows.map((row) => ({ row, view: seen(row) }))
  if (keys.length > 0) views.sort((a, b) => byKeys(keys, a.view, b.view))
  return views.filter((v) => keep(v.view)).slice(0, limit).map((v) => v.row)
}

function sortKeys(text: string): { field: string; descending: boolean }[] {
  const keys = text.split(',').map((k) => k.trim()).filter(Boolean).map((k) => ({ field: k.replace(/^~/, ''), descending: k.startsWith('~') }))
  const bad = keys.find((k) => !new RegExp(`^${KEY_NAME}(?:\\.${KEY_NAME})*$`).test(k.field))
  if (keys.length === 0 || bad) throw usageError(`--sort-by=${text}: '${bad?.field ?? ''}' is not a field name such as metadata.name or ~createTime.`)
  return keys
}

/** Stable, with items that lack a field first (last when descending), as gcloud sorts. */
function byKeys(keys: { field: string; descending: boolean }[], a: unknown, b: unknown): number {
  for (const { field, descending } of keys) {
    const [x, y] = [scalars(project(a, field)).join(','), scalars(project(b, field)).join(',')]
    const c = compare(x, y)
    if (c !== 0) return descending ? -c : c
  }
  return 0
}
