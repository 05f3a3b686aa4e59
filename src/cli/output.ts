import { usageError } from './errors.js'
import { yaml as yamlLibrary } from './yaml.js'
import { terminalSafe } from './terminal-text.js'

/**
 * Output formats, as gcloud users type them: `yaml`, `json`, `table`, and projections —
 * `value(FIELD,…)` (tab-separated, no heading: what scripts read), `table(FIELD,…)`,
 * `csv(FIELD,…)` (RFC 4180, a heading of the fields' names in lower case first, as gcloud's),
 * and `json(FIELD,…)`, `yaml(FIELD,…)` (the resource with only those fields, nested as they
 * are in it). `table` and `csv` take gcloud's `[no-heading]`. A field is a dotted key into the
 * API's JSON (`uri`, `bindings.members`); a key that meets a list applies to every item, and a
 * list printed in one cell has its items separated by `;`. `none` (and gcloud's other word for
 * it, `disable`) prints nothing on stdout; status lines still go to stderr.
 */
export type Format = 'yaml' | 'json' | 'table' | 'none' | `${ProjectionKind}(${string})` | `${'table' | 'csv'}[no-heading](${string})`

type ProjectionKind = 'value' | 'table' | 'csv' | 'json' | 'yaml'

/**
 * One name in a dotted key: a JSON field, or a map's key — label keys hold `-` (`cost-center`),
 * and gcloud reads `-` inside a key as part of it (only at the start of a filter term is it NOT).
 */
export const KEY_NAME = '[A-Za-z_][\\w-]*'
const FIELD = new RegExp(`^${KEY_NAME}(?:\\[\\d*\\])?(?:\\.${KEY_NAME}(?:\\[\\d*\\])?)*$`)
const PROJECTION = /^(value|table|csv|json|yaml)(?:\[([^\]]*)\])?\((.*)\)$/s
const HELP = "--format must be yaml, json, table, none, or the fields to print as value(FIELD,…), table(FIELD,…), csv(FIELD,…), json(FIELD,…) or yaml(FIELD,…), e.g. --format='value(uri)'"

export function parseFormat(raw: string | undefined, fallback: Format): Format {
  const f = (raw ?? fallback).trim()
  if (f === 'yaml' || f === 'json' || f === 'table' || f === 'none') return f
  if (f === 'disable') return 'none'
  if (f === 'csv') throw usageError("--format=csv needs the fields to print, e.g. --format='csv(name,uri)'.")
  const m = PROJECTION.exec(f)
  if (!m) throw usageError(`${HELP}, not '${f}'.`)
  const [kind, attributes, list] = [m[1] as ProjectionKind, m[2], m[3]!]
  // gcloud's other printer attributes (delimiter=, separator=, …) would be ignored silently here: refused instead.
  const heading = attributes === undefined ? '' : attributes.trim() === 'no-heading' && (kind === 'csv' || kind === 'table') ? '[no-heading]' : undefined
  if (heading === undefined) throw usageError(`--format=${f}: of gcloud's format attributes only [no-heading] is taken, on csv and table, e.g. --format='csv[no-heading](name,uri)'.`)
  const fields = splitFields(list)
  const bad = fields.find((x) => !FIELD.test(x))
  if (fields.length === 0 || bad !== undefined) throw usageError(`--format=${f}: '${bad ?? ''}' is not a field name such as uri or bindings.members.`)
  return `${kind}${heading}(${fields.join(',')})` as Format
}

function splitFields(text: string): string[] {
  return text.split(',').map((s) => s.trim()).filter(Boolean)
}

/** Whether output in this format shows `field` of a resource (json and yaml show every field). */
export function shows(format: Format, field: string): boolean {
  if (format === 'json' || format === 'yaml') return true
  return projection(format)?.fields.includes(field) ?? false
}

interface Projection {
  kind: ProjectionKind
  heading: boolean
  fields: string[]
}

function projection(format: Format): Projection | undefined {
  const m = PROJECTION.exec(format)
  return m ? { kind: m[1] as ProjectionKind, heading: m[2] === undefined, fields: splitFields(m[3]!) } : undefined
}

/** Said when a bare --format=table meets a command that prints one resource (or none). */
export const TABLE_FOR_ONE = "--format=table lists many resources; for one, use yaml, json or value(FIELD,…), e.g. --format='value(uri)'."

/**
 * One resource: YAML by default (as gcloud's describe), JSON or a projection on request.
 * `projected`: the resource as projections see it (with fields a gcloud user may name besides its own).
 */
export function formatResource<T>(value: T, format: Format, projected: (value: T) => unknown = (v) => v): string {
  if (format === 'none') return ''
  if (format === 'json') return JSON.stringify(value, null, 2) + '\n'
  if (format === 'yaml') return yaml(value)
  const p = projection(format)
  if (!p) throw usageError(TABLE_FOR_ONE)
  const seen = projected(value)
  if (p.kind === 'json') return JSON.stringify(pick(seen, p.fields), null, 2) + '\n'
  if (p.kind === 'yaml') return yaml(pick(seen, p.fields))
  if (p.kind === 'value') return valueRow(seen, p.fields) + '\n'
  if (p.kind === 'csv') return csv(p, [seen])
  return layOut([...(p.heading ? [headings(p.fields)] : []), p.fields.map((f) => cell(project(seen, f)))], true)
}

/**
 * YAML with every C1 control character escaped. The yaml library double-quotes a string that
 * holds one (YAML counts them unprintable) but writes the character itself, and U+009B is a
 * one-character CSI to a terminal that reads C1. Inside double quotes `\xNN` means the same.
 */
function yaml(value: unknown): string {
  return yamlLibrary().stringify(value, { lineWidth: 0 }).replace(/[\u0080-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16)}`)
}

export interface Column<T> {
  header: string
  value: (row: T) => string
}

/**
 * Lists: a table by default — aligned for a person on a terminal, tab-separated when piped to a
 * tool — YAML documents, a JSON array, or a projection on request.
 */
export function formatList<T>(rows: readonly T[], columns: readonly Column<T>[], format: Format, o: { tty?: boolean; projected?: (row: T) => unknown } = {}): string {
  const tty = o.tty ?? true
  if (format === 'none') return ''
  if (format === 'json') return JSON.stringify(rows, null, 2) + '\n'
  if (format === 'yaml') return rows.map((r) => '---\n' + yaml(r)).join('')
  const p = projection(format)
  const seen = p && o.projected ? rows.map(o.projected) : rows
  if (p?.kind === 'json') return JSON.stringify(seen.map((r) => pick(r, p.fields)), null, 2) + '\n'
  if (rows.length === 0) return ''
  if (p?.kind === 'yaml') return seen.map((r) => '---\n' + yaml(pick(r, p.fields))).join('')
  if (p?.kind === 'value') return seen.map((r) => valueRow(r, p.fields) + '\n').join('')
  if (p?.kind === 'csv') return csv(p, seen)
  if (p) return layOut([...(p.heading ? [headings(p.fields)] : []), ...seen.map((r) => p.fields.map((f) => cell(project(r, f))))], tty)
  return layOut([columns.map((c) => c.header), ...rows.map((r) => columns.map((c) => c.value(r)))], tty)
}

function layOut(table: string[][], tty: boolean): string {
  const cells = table.map((row) => row.map(terminalSafe))
  if (!tty) return cells.map((row) => row.join('\t')).join('\n') + '\n'
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((row) => row[i]!.length)))
  return cells.map((row) => row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n') + '\n'
}

/**
 * CSV as gcloud's csv printer writes it (RFC 4180): a heading of the fields' names as table(…)
 * makes them, in lower case, unless [no-heading]; a cell that holds `,` or `"` quoted, its `"`
 * doubled. Cells are made terminal-safe first, as value(…)'s are (a line break becomes a space),
 * so one record is one line.
 */
function csv(p: Projection, rows: readonly unknown[]): string {
  const line = (cells: string[]) => cells.map((c) => (/[,"]/.test(c) ? `"${c.replace(/"/g, '""')}"` : c)).join(',') + '\n'
  const heading = p.heading ? line(headings(p.fields).map((h) => h.toLowerCase())) : ''
  return heading + rows.map((r) => line(p.fields.map((f) => terminalSafe(cell(project(r, f)))))).join('')
}

function valueRow(value: unknown, fields: string[]): string {
  return fields.map((f) => terminalSafe(cell(project(value, f)))).join('\t')
}

/**
 * Column headings as gcloud makes them: a field's last name in ANGRY_SNAKE_CASE (`status.url` →
 * URL, `networkIP` → NETWORK_IP), with the names before it added, right to left, while it would
 * repeat an earlier column's (`metadata.name,spec.name` → NAME, SPEC_NAME).
 */
function headings(fields: readonly string[]): string[] {
  const taken = new Set<string>()
  return fields.map((field) => {
    let label = ''
    for (const name of field.split('.').reverse()) {
      const snake = name.replace(/\[\d*\]$/, '').replace(/((?<=[a-z0-9])[A-Z]+|(?!^)[A-Z](?=[a-z]))/g, '_$1').toUpperCase()
      label = label ? `${snake}_${label}` : snake
      if (!taken.has(label)) break
    }
    taken.add(label)
    return label
  })
}

/** The value at a dotted key; a list met on the way applies the rest of the key to each item. */
export function project(value: unknown, field: string): unknown {
  return walk(value, field.split('.'))
}

function walk(value: unknown, parts: string[]): unknown {
  if (parts.length === 0) return value
  if (Array.isArray(value)) return value.map((item) => walk(item, parts))
  if (value === null || typeof value !== 'object') return undefined
  const [key, index] = /^([\w-]+)(?:\[(\d*)\])?$/.exec(parts[0]!)!.slice(1)
  // Own keys only: `labels.constructor` is no label, however every object answers to it.
  let next = Object.hasOwn(value, key!) ? (value as Record<string, unknown>)[key!] : undefined
  if (index) next = Array.isArray(next) ? next[Number(index)] : undefined
  return walk(next, parts.slice(1))
}

/**
 * The resource with only `fields`, each where it is in the resource (`metadata.name` →
 * `{metadata: {name}}`), as gcloud's json(…) and yaml(…) print it; a key that meets a list keeps
 * the list, with the rest of the key picked from each item, and `[N]` keeps item N alone. A field
 * the resource lacks is left out (none of them: `{}`).
 */
export function pick(value: unknown, fields: readonly string[]): unknown {
  return fields.reduce<unknown>((picked, field) => merge(picked, pickOne(value, field.split('.'))), undefined) ?? {}
}

function pickOne(value: unknown, parts: string[]): unknown {
  if (parts.length === 0) return value
  if (Array.isArray(value)) return value.map((item) => pickOne(item, parts))
  if (value === null || typeof value !== 'object') return undefined
  const [key, index] = /^([\w-]+)(?:\[(\d*)\])?$/.exec(parts[0]!)!.slice(1)
  if (!Object.hasOwn(value, key!)) return undefined
  let next = (value as Record<string, unknown>)[key!]
  if (index) next = Array.isArray(next) && Number(index) < next.length ? [next[Number(index)]] : undefined
  const inner = pickOne(next, parts.slice(1))
  return inner === undefined ? undefined : { [key!]: inner }
}

/** Two picks of one resource as one: objects key by key, lists item by item. */
function merge(a: unknown, b: unknown): unknown {
  if (a === undefined) return b
  if (b === undefined) return a
  if (Array.isArray(a) && Array.isArray(b)) return Array.from({ length: Math.max(a.length, b.length) }, (_, i) => merge(a[i], b[i]))
  if (isRecord(a) && isRecord(b)) {
    const out: Record<string, unknown> = { ...a }
    for (const [k, v] of Object.entries(b)) out[k] = merge(out[k], v)
    return out
  }
  return b
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

/** A value in one cell: lists joined by `;`, maps as key=value;…, nothing as empty. */
export function cell(value: unknown): string {
  if (value === undefined || value === null) return ''
  if (Array.isArray(value)) return value.map(cell).join(';')
  if (typeof value === 'object') return Object.entries(value).map(([k, v]) => `${k}=${cell(v)}`).join(';')
  return String(value)
}
