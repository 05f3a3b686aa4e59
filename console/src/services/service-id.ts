import type { Policy, Service } from '../api/types.ts'

/** `projects/p/services/s` → `s`. */
export function serviceIdOf(service: Service): string {
  return service.name.slice(service.name.lastIndexOf('/') + 1)
}

/** Whether a caller needs a token, as the gateway decides it from the service alone (DESIGN §4, step 2). */
export function authenticationOf(service: Service, policy: Policy | undefined): string {
  if (service.invokerIamDisabled) return 'Public (IAM check off)'
  if (!policy) return '—'
  const publicInvoker = (policy.bindings ?? []).some((b) => !b.condition && b.members.includes('allUsers') && INVOKING_ROLES.has(b.role))
  return publicInvoker ? 'Allow unauthenticated' : 'Require authentication'
}

const INVOKING_ROLES = new Set(['roles/run.invoker', 'roles/run.developer', 'roles/run.admin', 'roles/editor', 'roles/owner'])
