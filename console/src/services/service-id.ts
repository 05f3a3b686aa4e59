import type { Service } from '../api/types.ts'

/** `projects/p/services/s` → `s`. */
export function serviceIdOf(service: Service): string {
  return service.name.slice(service.name.lastIndexOf('/') + 1)
}

/**
 * Whether a caller needs a token, as the gateway decides it (DESIGN §4, step 2). The API's
 * `allUsersMayInvoke` counts the service's, the project's and the organization's policies, as the
 * gateway and `postern services list` do; the service's own policy alone would miss a project-wide
 * grant to allUsers and call an open service private.
 */
export function authenticationOf(service: Service): string {
  if (service.invokerIamDisabled) return 'Public (IAM check off)'
  if (service.allUsersMayInvoke === undefined) return '—' // a server older than the field
  return service.allUsersMayInvoke ? 'Allow unauthenticated' : 'Require authentication'
}
