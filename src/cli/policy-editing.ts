import { BindingEditError, addMember, removeMember, type ConditionChoice } from '../api/binding-edits.js'
import { getIamPolicy, setIamPolicy } from '../api/paths.js'
import { readModifyWrite as retryingReadModifyWrite } from '../api/read-modify-write.js'
import type { Condition, Policy } from '../api/types.js'
import { unsupportedRole, type CatalogueRole } from '../core/unsupported-role.js'
import type { Api } from './api.js'
import { CliError, usageError } from './errors.js'
import { readDocument } from './read-document.js'

export type { Policy }

/**
 * `--condition expression=EXPR,title=T[,description=D]` or `--condition=None`, as gcloud takes it.
 * An expression may itself contain commas, so the value is split only before a known key.
 */
export function parseConditionFlag(raw: string | undefined): Condition | 'none' | undefined {
  if (raw === undefined) return undefined
  if (raw === 'None' || raw === 'none') return 'none'
  const fields: Record<string, string> = {}
  for (const part of raw.split(/,(?=\s*(?:expression|title|description)=)/)) {
    const eq = part.indexOf('=')
    const key = part.slice(0, eq).trim()
    if (eq < 0 || !['expression', 'title', 'description'].includes(key)) throw usageError(`--condition: expected expression=…,title=…[,description=…], got '${raw}'.`)
    fields[key] = part.slice(eq + 1)
  }
  if (!fields.expression || !fields.title) throw usageError('--condition needs both expression= and title=.')
  return { expression: fields.expression, title: fields.title, ...(fields.description && { description: fields.description }) }
}

/**
 * The condition an add/remove-iam-policy-binding names: `--condition` or `--condition-from-file`
 * (which exclude each other, as gcloud's do); undefined when neither was given.
 */
export function conditionFlags(o: { condition?: string; conditionFromFile?: string }): Condition | 'none' | undefined {
  if (o.condition !== undefined && o.conditionFromFile !== undefined) throw usageError('--condition and --condition-from-file exclude each other: give the condition once.')
  return o.conditionFromFile !== undefined ? readConditionFile(o.conditionFromFile) : parseConditionFlag(o.condition)
}

/** gcloud's --condition-from-file: a YAML or JSON object with expression, title and (optionally) description. */
export function readConditionFile(file: string): Condition {
  const value = readDocument(file, 'JSON or YAML')
  const shape = `${file} must hold a condition: expression: EXPR, title: TITLE and, optionally, description: TEXT`
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new CliError(`${shape}.`)
  const fields = value as Record<string, unknown>
  // A misspelt key would otherwise be dropped, and the binding saved without what it said.
  const unknown = Object.keys(fields).find((k) => !['expression', 'title', 'description'].includes(k))
  if (unknown !== undefined) throw new CliError(`${shape}; '${unknown}' is none of them.`)
  const bad = Object.entries(fields).find(([, v]) => typeof v !== 'string')
  if (bad) throw new CliError(`${shape}; ${bad[0]} must be a string.`)
  const { expression, title, description } = fields as Record<string, string | undefined>
  if (!expression || !title) throw new CliError(`${shape}; both expression and title are needed.`)
  return { expression, title, ...(description && { description }) }
}

/** Whether any binding of the policy has a condition: then an edit must say which binding it means. */
function hasConditions(policy: Policy): boolean {
  return (policy.bindings ?? []).some((b) => b.condition)
}

/** Raised, as gcloud's IamPolicyBindingIncompleteError, when an edit of a conditional policy names no condition. */
export class ConditionNeeded extends CliError {}

/**
 * `add-iam-policy-binding`'s edit. `condition`: as given (`'none'`: --condition=None); undefined
 * when neither --condition nor --condition-from-file was given, which gcloud refuses (without a
 * terminal to ask on) once the policy has a conditional binding: the new binding may be meant to
 * join one of those. Postern never asks, so the refusal says what to type.
 */
export function withBinding(policy: Policy, member: string, role: string, condition: Condition | 'none' | undefined): Policy {
  if (condition === undefined && hasConditions(policy)) {
    throw new ConditionNeeded(
      'ERROR: Adding a binding without specifying a condition to a policy containing conditions is prohibited in non-interactive mode. ' +
        "Run the same command again and specify the condition with --condition: --condition=None adds the binding without one; --condition='expression=…,title=…' (or --condition-from-file=FILE) adds it with one.",
    )
  }
  return addMember(policy, member, role, condition === 'none' ? undefined : condition)
}

/** No binding holds the member and role that remove-iam-policy-binding names. */
export class BindingNotFound extends CliError {}

/**
 * `remove-iam-policy-binding`'s edit; gcloud's wording for a binding that is not there. As gcloud,
 * a policy with any conditional binding needs --condition (None too) or --all: which binding is
 * meant is said, not guessed.
 */
export function withoutBinding(policy: Policy, member: string, role: string, which: ConditionChoice | undefined): Policy {
  if (which === undefined && hasConditions(policy)) {
    throw new ConditionNeeded(
      'ERROR: Removing a binding without specifying a condition from a policy containing conditions is prohibited in non-interactive mode. ' +
        'Run the command again with --condition=None to remove a binding without condition, with --condition (or --condition-from-file) to remove the binding with that condition, or with --all to remove all bindings of the specified principal and role.',
    )
  }
  try {
    return removeMember(policy, member, role, which)
  } catch (err) {
    if (!(err instanceof BindingEditError)) throw err
    if (err.reason === 'ambiguous') throw usageError(err.message)
    throw new BindingNotFound(`ERROR: ${err.message}`, 1, 'NOT_FOUND')
  }
}

/**
 * A removal is edited here, so a mistyped role (`run.invoker`) would only be "not found", where
 * add-iam-policy-binding hears from the server that the role is not supported and which one was
 * meant. When no binding holds the role and the server's catalogue does not know it either, the
 * removal says what the addition says, in the same words.
 */
export async function explainUnknownRole(api: Api, role: string, err: unknown): Promise<unknown> {
  if (!(err instanceof BindingNotFound)) return err
  const { roles } = await api.call<{ roles: CatalogueRole[] }>('GET', '/v1/roles', undefined, { idempotent: true })
  if (roles.some((r) => r.name === role)) return err
  return new CliError(`ERROR: (INVALID_ARGUMENT) ${unsupportedRole(role, roles)}`, 1, 'INVALID_ARGUMENT')
}

/** Read, change, write with the etag, over the API; the loop itself is the one in src/api. */
export function readModifyWrite(api: Api, resourcePath: string, edit: (p: Policy) => Policy): Promise<Policy> {
  return retryingReadModifyWrite(
    {
      read: () => api.call<Policy>('POST', getIamPolicy(resourcePath), {}, { idempotent: true }).catch(async (err: unknown) => Promise.reject(await askingToChange(api, err))),
      // Safe to resend: had the first landed, the etag would no longer match (ABORTED, re-read).
      write: (policy) => api.call<Policy>('POST', setIamPolicy(resourcePath), { policy }, { idempotent: true }),
    },
    edit,
  )
}

/**
 * Postern refuses local users, groups and service accounts that do not exist; these it cannot
 * check, so the CLI says so rather than let a typo pass as a grant.
 */
export function uncheckedMemberNote(member: string): string | undefined {
  if (/^domain:/i.test(member)) return `Note: ${member} cannot be checked (Postern keeps no list of domains); it grants every local user whose email ends in @${member.slice('domain:'.length)}. Make sure it is spelled right.`
  if (/^principal(Set)?:\/\//i.test(member)) return `Note: ${member} cannot be checked: federated subjects, groups and attributes are known only to the identity provider. Make sure it is spelled right.`
  return undefined
}

/**
 * A policy edit refused at its read: the server names the narrowest role that may read the
 * policy (a viewer's), which would be refused again at the write. The edit says what it needs,
 * from the server's catalogue (GET /v1/roles, readable by anyone signed in).
 */
async function askingToChange(api: Api, err: unknown): Promise<unknown> {
  if (!(err instanceof CliError) || err.status !== 'PERMISSION_DENIED') return err
  const read = /'([a-z]+\.[a-zA-Z]+\.getIamPolicy)'/.exec(err.message)?.[1]
  if (!read) return err
  const write = read.replace(/getIamPolicy$/, 'setIamPolicy')
  let roles: RoleWithPermissions[]
  try {
    roles = (await api.call<{ roles: RoleWithPermissions[] }>('GET', '/v1/roles', undefined, { idempotent: true })).roles
  } catch {
    return err
  }
  const role = narrowestWith(roles, write)
  if (!role) return err
  const message = err.message.replace(/ A role that allows it: [^\n]*$/, '') + ` Changing the policy needs '${write}': a role that allows it is ${role.title} (${role.name}).`
  return new CliError(message, err.exitCode, err.status)
}

type RoleWithPermissions = CatalogueRole & { includedPermissions?: string[] }

function narrowestWith(roles: readonly RoleWithPermissions[], permission: string): RoleWithPermissions | undefined {
  return roles.filter((r) => r.includedPermissions?.includes(permission)).sort((a, b) => a.includedPermissions!.length - b.includedPermissions!.length)[0]
}
