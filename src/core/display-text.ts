import * as z from 'zod'

/**
 * A display name (of a user, group, service account, pool or provider): any text but control
 * characters, which would end lines or move a terminal's cursor, and the invisible marks that
 * reorder or hide text (bidirectional overrides and isolates, zero-width spaces and joiners),
 * wherever a name is shown — one line in the console, on sign-in pages, in the CLI's tables and
 * in the audit log. (Descriptions are prose, and may hold any text: the CLI shows stored text in
 * caret notation.)
 */
// eslint-disable-next-line no-control-regex -- refusing control characters is the point
const NO_CONTROLS = /^[^\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]*$/

export const displayName = (max: number) => z.string().max(max).regex(NO_CONTROLS, 'may not hold control characters or invisible marks that reorder or hide text')
