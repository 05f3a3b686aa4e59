/** Row ↔ record conversions shared by the query modules. Columns are snake_case; numbers may come back as strings from some drivers. */
export type Row = Record<string, unknown>

export const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v))
export const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : num(v))
export const bool = (v: unknown): boolean => v === true || v === 1 || v === '1'
export const str = (v: unknown): string => String(v)
export const strOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : String(v))
export const flag = (b: boolean): number => (b ? 1 : 0)

/** Escapes LIKE wildcards so user data matches literally (with ESCAPE '\'). */
export const likeLiteral = (text: string): string => text.replace(/[\\%_]/g, (c) => '\\' + c)
