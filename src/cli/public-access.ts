import { getIamPolicy } from '../api/paths.js'
import type { Api } from './api.js'
import { CliError } from './errors.js'
import { readModifyWrite, withBinding, withoutBinding, type Policy } from './policy-editing.js'

/**
 * `services create|update --[no-]allow-unauthenticated`: the allUsers invoker binding, added to or
 * removed from the service's IAM policy. That is a second call, after the service's own, and it
 * needs run.services.getIamPolicy and setIamPolicy, which a developer (roles/run.developer) may
 * create and change services without. So the command asks the server first (testIamPermissions)
 * and refuses before it changes anything; a policy write refused all the same (a concurrent
 * change to the roles) is said after the service's change, with the command that finishes it.
 */

export interface ServiceRef {
  project: string
  service: string
}

const INVOKER = 'roles/run.invoker'
const NEEDED = ['run.services.getIamPolicy', 'run.services.setIamPolicy']

const isPublic = (p: Policy) => (p.bindings ?? []).some((b) => b.role === INVOKER && !b.condition && b.members.includes('allUsers'))

/** What makes the service public (or private again) by itself: for whoever may set its IAM policy. */
export function publicAccessCommand(ref: ServiceRef, allow: boolean): string {
  return `postern services ${allow ? 'add' : 'remove'}-iam-policy-binding ${ref.service} --project=${ref.project} --member=allUsers --role=${INVOKER}`
}

/**
 * Refuses, before the service is created (`exists` false) or changed, when the caller could not
 * also change its policy as asked. Holding getIamPolicy alone is enough when the policy already
 * is as asked: then nothing is written.
 */
export async function checkMayChangePublicAccess(api: Api, path: string, ref: ServiceRef, allow: boolean, exists: boolean): Promise<void> {
  const { permissions = [] } = await api.call<{ permissions?: string[] }>('POST', `${path}:testIamPermissions`, { permissions: NEEDED }, { idempotent: true })
  const missing = NEEDED.filter((p) => !permissions.includes(p))
  if (missing.length === 0) return
  if (exists && permissions.includes('run.services.getIamPolicy')) {
    const policy = await api.call<Policy>('POST', getIamPolicy(path), {}, { idempotent: true })
    if (isPublic(policy) === allow) return
  }
  const flag = allow ? '--allow-unauthenticated' : '--no-allow-unauthenticated'
  throw new CliError(
    `ERROR: (PERMISSION_DENIED) ${flag} changes the IAM policy of service [${ref.service}], which needs ${missing.map((p) => `'${p}'`).join(' and ')}: you do not have ${missing.length > 1 ? 'them' : 'it'} there (roles/run.admin has both). ` +
      `Nothing was ${exists ? 'changed' : 'created'}. Run the command without ${flag}, and ask someone who may set the service's IAM policy to run:\n  ${publicAccessCommand(ref, allow)}`,
    1,
    'PERMISSION_DENIED',
  )
}

/**
 * Adds or removes the allUsers binding. A failure is returned, not thrown: the service's own change
 * is made by then, and is shown before the failure is said (with the command that finishes it).
 */
export async function changePublicAccess(api: Api, path: string, ref: ServiceRef, allow: boolean, done: 'created' | 'updated'): Promise<CliError | undefined> {
  try {
    await readModifyWrite(api, path, (p) => (allow ? withBinding(p, 'allUsers', INVOKER, 'none') : isPublic(p) ? withoutBinding(p, 'allUsers', INVOKER, 'none') : p))
    return undefined
  } catch (err) {
    const said = err instanceof CliError ? err : new CliError(`ERROR: ${(err as Error).message ?? String(err)}`)
    return new CliError(
      `${said.message.replace(/\n$/, '')}\nService [${ref.service}] was ${done}, but its IAM policy was not changed: it is ${allow ? 'not public' : 'still public'}. ` +
        `To finish, someone who may set the service's IAM policy runs:\n  ${publicAccessCommand(ref, allow)}`,
      1,
      said.status,
    )
  }
}
