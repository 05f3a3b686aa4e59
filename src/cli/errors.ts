/**
 * CLI failures and their exit codes (DESIGN §6): 1 for an error the server or the input
 * reported, 2 for a usage error. The message goes to stderr as is.
 */
export class CliError extends Error {
  override readonly name = 'CliError'
  constructor(
    message: string,
    readonly exitCode: 1 | 2 = 1,
    /** The server's canonical status when the server reported it (e.g. ABORTED). */
    readonly status?: string,
  ) {
    super(message)
  }
}

export const usageError = (message: string) => new CliError(message, 2)

/** Spaces around a member or role pasted from elsewhere are never part of it. */
export const trimmed = (value: string): string => value.trim()

/**
 * As trimmed, for a flag that takes one value: given twice (`--member=a --member=b`), commander
 * would keep the last and drop the first without a word; a grant or a revocation then touches
 * someone other than the one typed first.
 */
export const once = (flag: string) => (value: string, previous: string | undefined): string => {
  if (previous !== undefined) throw usageError(`${flag} was given twice ('${previous}', '${value.trim()}'): it takes one value; run the command once for each.`)
  return value.trim()
}
