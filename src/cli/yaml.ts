import { createRequire } from 'node:module'
import type * as Yaml from 'yaml'

/**
 * The yaml library, loaded the first time a command reads or writes YAML. Imported up front it
 * was 73 files and ~40 ms of every command's start, and most commands print a table or JSON.
 * Required rather than imported because the formatters that use it are synchronous.
 */
let loaded: typeof Yaml | undefined
export function yaml(): typeof Yaml {
  return (loaded ??= createRequire(import.meta.url)('yaml') as typeof Yaml)
}
