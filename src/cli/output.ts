import { stringify } from 'yaml'
import { usageError } from './errors.js'

export type Format = 'yaml' | 'json' | 'table'

export function parseFormat(raw: string | undefined, fallback: Format): Format {
  const f = raw ?? fallback
  if (f !== 'yaml' && f !== 'json' && f !== 'table') throw usageError(`--format must be yaml, json or table, not '${f}'.`)
  return f
}

/** One resource: YAML by default (as gcloud's describe), JSON on request. */
export function formatResource(value: unknown, format: Format): string {
  if (format === 'json') return JSON.stringify(value, null, 2) + '\n'
  return stringify(value, { lineWidth: 0 })
}

export interface Column<T> {
  header: string
  value: (row: T) => string
}

/** Lists: a table by default, YAML documents or a JSON array on request. */
export function formatList<T>(rows: readonly T[], columns: readonly Column<T>[], format: Format): string {
  if (format === 'json') return JSON.stringify(rows, null, 2) + '\n'
  if (format === 'yaml') return rows.map((r) => '---\n' + stringify(r, { lineWidth: 0 })).join('')
  if (rows.length === 0) return ''
  const cells = [columns.map((c) => c.header), ...rows.map((r) => columns.map((c) => c.value(r).replace(/[\r\n\t]/g, ' ')))]
  const widths = columns.map((_, i) => Math.max(...cells.map((row) => row[i]!.length)))
  return cells.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n') + '\n'
}
