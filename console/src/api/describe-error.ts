import { ApiError } from './client.ts'

/**
 * Turns a failed call into words for the person who clicked: what went wrong in plain terms,
 * then the server's own explanation, which names the permission or the field at fault.
 * `action` completes "You don't have permission to …", e.g. "change who can use hello".
 */
export function describeError(err: unknown, action: string): string {
  if (!(err instanceof ApiError)) return `Something went wrong while trying to ${action}. Reload the page and try again.`
  const detail = err.message.trim()
  switch (err.status) {
    case 'UNAVAILABLE':
      if (err.httpStatus === 0) return `Couldn't reach the Postern server to ${action}. Check that it is running and try again.`
      break
    case 'PERMISSION_DENIED':
      if (/csrf/i.test(detail)) return 'Your session could not be verified. Reload the page and try again.'
      return `You don't have permission to ${action}. Ask ${whoGrants(detail)} to grant you a role that allows it. (${detail})`
    case 'UNAUTHENTICATED':
      return `Your session has ended, so Postern couldn't ${action}. Sign in again, then try again.`
    case 'ABORTED':
      return `Someone else changed this at the same moment, so nothing was saved. Try again. (${detail})`
    case 'NOT_FOUND':
      // A reload cannot bring it back: it was deleted, or never existed under this name.
      return `${detail} It was deleted (perhaps by someone else just now), or never existed under this name.`
    case 'ALREADY_EXISTS':
    case 'INVALID_ARGUMENT':
    case 'FAILED_PRECONDITION':
      return detail
    case 'RESOURCE_EXHAUSTED':
      return `Too many requests right now. Wait a moment and try again. (${detail})`
  }
  if (err.httpStatus >= 500) return `The server couldn't ${action} because of an error on its side. Try again; if it keeps happening, check the server log.`
  return detail || `Couldn't ${action}.`
}

/**
 * Who can grant what a refusal names: the server says the resource (`denied on resource
 * 'organizations/local'`); a role on the organization is granted by its owners, not a project's.
 */
function whoGrants(detail: string): string {
  return /on resource 'organizations\//.test(detail) ? 'an organization owner or admin' : 'a project owner'
}
