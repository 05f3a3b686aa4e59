/**
 * The bounds of a service's access-request limit (`services update --max-access-request-duration`),
 * shared by the server, which enforces them, and the CLI, which checks them before it changes
 * anything (a service update is two calls; the second one refused would leave the first made).
 */

/** Shorter grants are not worth a request (and would expire before most approvals reach a gateway). */
export const MIN_REQUEST_SECONDS = 60
/** Admins may raise a service's limit up to a week; longer is a standing grant, which is what a binding is for. */
export const MAX_LIMIT_SECONDS = 7 * 86400
