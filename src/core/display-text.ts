import * as z from 'zod'

/**
 * The invisible marks that reorder or hide text: bidirectional marks, embeddings, overrides and
 * isolates (U+061C, U+200E–U+200F, U+202A–U+202E, U+2066–U+2069), the zero-width space, the word
 * joiner and invisible operators (U+200B, U+2060–U+2065), the BOM (U+FEFF). Shown in the console,
 * 'admin\u202Egpj.exe' reads 'adminexe.jpg' (CVE-2021-42574, "Trojan Source").
 */
const HIDDEN = '\\u061c\\u200b\\u200e\\u200f\\u202a-\\u202e\\u2060-\\u2069\\ufeff'
/**
 * The zero-width non-joiner and joiner: invisible too, so two names that look alike could differ
 * by one; but prose needs them, to write Persian and the Indic scripts, and emoji such as 👩‍💻.
 */
const JOINERS = '\\u200c\\u200d'

/**
 * A display name (of a user, group, service account, pool or provider): any text but control
 * characters, which would end lines or move a terminal's cursor, and invisible marks, wherever a
 * name is shown — one line in the console, on sign-in pages, in the CLI's tables and in the
 * audit log.
 */
const NAME_TEXT = new RegExp(`^[^\\x00-\\x1f\\x7f-\\x9f${HIDDEN}${JOINERS}]*$`)

/**
 * A description (of a service, service account, group, pool or provider) is prose: it may run
 * over lines and hold any text, control characters too (the CLI shows stored text in caret
 * notation, the console as text), but not the marks that would show it reordered or hidden.
 */
const PROSE = new RegExp(`^[^${HIDDEN}]*$`)

export const displayName = (max: number) => z.string().max(max).regex(NAME_TEXT, 'may not hold control characters or invisible marks that reorder or hide text')

export const description = (max: number) => z.string().max(max).regex(PROSE, 'may not hold invisible marks that reorder or hide text')
