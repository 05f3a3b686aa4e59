import type * as z from 'zod'
import { invalid } from './errors.js'

/** Validates wire input with a zod schema; the error names the field and what is wrong with it. */
export function parseWith<T extends z.ZodType>(schema: T, value: unknown, what = 'request'): z.infer<T> {
  const result = schema.safeParse(value)
  if (result.success) return result.data
  const issue = result.error.issues[0]!
  const path = issue.path.length ? issue.path.map(String).join('.') : what
  const message = issue.code === 'unrecognized_keys' ? `Unknown field ${issue.keys.map((k) => `'${k}'`).join(', ')} in ${path}.` : `${path}: ${issue.message}.`
  throw invalid(message.replace('Invalid input: ', ''))
}
