import { closest } from './closest.js'

/** A role as the catalogue lists it (GET /v1/roles): enough to recognise what was meant. */
export interface CatalogueRole {
  name: string
  title: string
}

/**
 * The words for a role the catalogue does not hold, with the role most likely meant. Shared by the
 * server (a policy naming it is refused) and the CLI (remove-iam-policy-binding edits the policy
 * itself, and would otherwise only say that no binding holds it).
 */
export function unsupportedRole(raw: unknown, catalogue: readonly CatalogueRole[]): string {
  const meant = typeof raw === 'string' ? closestRole(raw, catalogue) : undefined
  const hint = meant ? ` Did you mean '${meant}'?` : ''
  return `Role '${typeof raw === 'string' ? printable(raw) : String(raw)}' is not supported.${hint} See 'postern iam roles list'.`
}

/**
 * The role a mistyped name means: with gcloud's `roles/` prefix left out, a typo or two away, its
 * title as the console shows it ('Run Invoker'), or the last word of one role alone ('invoker').
 */
function closestRole(raw: string, catalogue: readonly CatalogueRole[]): string | undefined {
  const name = raw.startsWith('roles/') ? raw : `roles/${raw}`
  if (catalogue.some((r) => r.name === name)) return name
  const word = raw.trim().toLowerCase()
  const named = catalogue.filter((r) => r.title.toLowerCase() === word || r.name.toLowerCase().endsWith(`.${word}`))
  if (named.length === 1) return named[0]!.name
  return closest(name, catalogue.map((r) => r.name))
}

/** As iam/members.ts's printable (this layer cannot import it): no control character from input reaches a terminal. */
function printable(raw: string): string {
  const clean = raw.replace(/\p{Cc}/gu, '?')
  return clean.length > 200 ? clean.slice(0, 200) + '…' : clean
}
