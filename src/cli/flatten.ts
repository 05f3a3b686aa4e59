import { usageError } from './errors.js'

/**
 * gcloud's `--flatten=KEY[,KEY…]`: a record whose KEY holds a list becomes one record per item,
 * each a copy with KEY holding that item, so that --filter and --format see one item at a time.
 * `[]` inside a key flattens there too: `bindings[].members` makes one record per binding and
 * then one per member, with `bindings.role` and `bindings.members` both single values — what
 * `get-iam-policy --flatten='bindings[].members' --filter='bindings.members:user:alice@example.com'
 * --format='value(bindings.role)'` needs to say which roles a member holds.
 *
 * As gcloud does, a record whose list is empty is dropped. Where KEY holds no list, the record is
 * kept as it is (gcloud would replace it with that value).
 */
export type FlattenPath = readonly string[]

const KEY = /^[A-Za-z_]\w*(?:\[\])?(?:\.[A-Za-z_]\w*(?:\[\])?)*$/

/** The paths to flatten, in order: each `[]` of a key ends one, and so does the key itself. */
export function parseFlatten(text: string): FlattenPath[] {
  const keys = text.split(',').map((k) => k.trim()).filter(Boolean)
  const bad = keys.find((k) => !KEY.test(k))
  if (keys.length === 0 || bad !== undefined) throw usageError(`--flatten=${text}: '${bad ?? ''}' is not a key such as bindings or bindings[].members.`)
  const paths: FlattenPath[] = []
  for (const key of keys) {
    const names: string[] = []
    for (const part of key.split('.')) {
      names.push(part.replace('[]', ''))
      if (part.endsWith('[]')) paths.push([...names])
    }
    if (!key.endsWith('[]')) paths.push(names)
  }
  return paths
}

export function flattenRecords(records: readonly unknown[], paths: readonly FlattenPath[]): unknown[] {
  return paths.reduce<unknown[]>((all, path) => all.flatMap((record) => flattenOne(record, path)), [...records])
}

function flattenOne(record: unknown, path: FlattenPath): unknown[] {
  const items = valueAt(record, path)
  if (!Array.isArray(items)) return [record]
  return items.map((item) => withValueAt(record, path, item))
}

function valueAt(value: unknown, path: FlattenPath): unknown {
  let at = value
  for (const name of path) {
    if (!isRecord(at)) return undefined
    at = at[name]
  }
  return at
}

/** A copy of record with the value at path replaced; what is off the path is shared, not copied. */
function withValueAt(record: unknown, path: FlattenPath, item: unknown): unknown {
  if (path.length === 0 || !isRecord(record)) return item
  const [name, ...rest] = path as [string, ...string[]]
  return { ...record, [name]: withValueAt(record[name], rest, item) }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}
