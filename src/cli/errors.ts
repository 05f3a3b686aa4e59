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
