/**
 * The bounds of a service's timeout (`--timeout`, `timeoutSeconds`), shared by the server, which
 * enforces them, the CLI, which checks them first, and the nginx data plane, whose waits on
 * Postern's gateway must outlast the longest (nginx-config.ts).
 */

/** As Cloud Run's request timeout: an hour at most. */
export const MAX_TIMEOUT_SECONDS = 3600
