import { invalid } from '../core/errors.js'

/**
 * A PATCH's `updateMask` (AIP-134), as Google's clients send it beside the whole resource: only
 * the fields it names are changed, whatever else the body holds; `*`, or no mask, means every
 * field the body gives. A name may be camelCase or snake_case. A mask naming a field the update
 * does not take, or one the body leaves out (AIP-134 would reset it to its default, which Postern
 * does not guess), is refused rather than half applied. `always` (the etag) is kept either way.
 */
export function withinMask<T extends Record<string, unknown>>(patch: T, mask: string | null, fields: readonly string[], always: readonly string[] = []): Partial<T> {
  if (mask === null) return patch
  const paths = mask.split(',').map((p) => p.trim()).filter(Boolean)
  if (paths.length === 0 || paths.includes('*')) return patch
  const named = new Set<string>()
  for (const path of paths) {
    const field = path.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())
    if (!fields.includes(field)) throw invalid(`updateMask names '${path.slice(0, 100)}', which an update does not take; it takes: ${fields.join(', ')}.`)
    if (patch[field] === undefined) throw invalid(`updateMask names '${path.slice(0, 100)}', which the body does not give.`)
    named.add(field)
  }
  return Object.fromEntries(Object.entries(patch).filter(([k]) => named.has(k) || always.includes(k))) as Partial<T>
}
