/**
 * The one rule for service names (DESIGN §1) and the one way to say it, shared by the API, the
 * CLI (which shows the API's words) and the console (which imports this file).
 */
export const SERVICE_ID = /^[a-z][a-z0-9-]{0,48}[a-z0-9]$/

export const SERVICE_ID_RULE = 'a service name has 2–50 characters: lowercase letters, digits and hyphens, starting with a letter and ending with a letter or digit'

/** What is wrong with a service name, in words; undefined when it is a valid one. */
export function serviceIdProblem(id: string): string | undefined {
  if (SERVICE_ID.test(id)) return undefined
  if (id !== id.trim()) return `Remove the spaces around the service name: ${SERVICE_ID_RULE}.`
  const shown = id.replace(/\p{Cc}/gu, '?') // no control characters from untrusted input in a message
  return `'${shown.length > 60 ? shown.slice(0, 60) + '…' : shown}' is not a valid service name: ${SERVICE_ID_RULE}.`
}
