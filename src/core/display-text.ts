import * as z from 'zod'

/**
 * A display name (of a user, group, service account, pool or provider): any text but control
 * characters, which would end lines, hide text or move a terminal's cursor wherever a name is
 * shown — one line in the console, on sign-in pages, in the CLI's tables and in the audit log.
 * (Descriptions are prose, and may hold any text: the CLI shows stored text in caret notation.)
 */
// eslint-disable-next-line no-control-regex -- refusing control characters is the point
const NO_CONTROLS = /^[^\x00-\x1f\x7f-\x9f]*$/

export const displayName = (max: number) => z.string().max(max).regex(NO_CONTROLS, 'may not hold control characters')
