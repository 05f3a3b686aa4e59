import { homedir } from 'node:os'
import { join } from 'node:path'
import type { Command } from 'commander'
import { Api } from './api.js'
import { ConfigFiles, type CliConfig } from '../core/cli-config-files.js'
import { CliError, usageError } from './errors.js'
import { shapeList, shapeRecords, type ListShape } from './list-flags.js'
import { formatList, formatResource, parseFormat, type Column, type Format } from './output.js'
import { Session } from './session.js'
import { terminalSafe } from './terminal-text.js'
import { generateAccessTokenPath, Impersonation } from './impersonation.js'
import { showsWarnings, type Verbosity } from './verbosity.js'

export interface Io {
  stdout: (text: string) => void
  stderr: (text: string) => void
  readStdin: () => Promise<string>
  stdinIsTTY: boolean
  /** Tables align their columns for a person on a terminal and are tab-separated for a pipe. */
  stdoutIsTTY?: boolean
  /** Asks one question on the terminal and resolves with the line typed (only when stdinIsTTY). */
  prompt?: (question: string) => Promise<string>
  env: Record<string, string | undefined>
}

export const DEFAULT_SERVER = 'http://127.0.0.1:7070'

/** The server a configuration talks to. */
function serverOf(config: CliConfig): string {
  return (config.server ?? DEFAULT_SERVER).replace(/\/$/, '')
}

/** What every command gets: the config files, the session, the API, global flags and output. */
export class Cli {
  readonly files: ConfigFiles
  readonly session: Session

  constructor(readonly io: Io) {
    this.files = new ConfigFiles(io.env.POSTERN_CONFIG_DIR ?? join(io.env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'postern'))
    this.session = new Session(this.files, serverOf)
  }

  server(): string {
    return serverOf(this.files.readConfig())
  }

  /** Set for the command being run when it impersonates a service account (main.ts). */
  private impersonation: Impersonation | undefined

  /**
   * The control API, called as the active account, or as `account` when one is named; as the
   * impersonated service account instead when --impersonate-service-account or the property
   * auth/impersonate_service_account says so (impersonation.ts).
   */
  api(account?: string): Api {
    return this.impersonation ? new Api(this.server(), this.session, account, this.impersonation) : this.signedInApi(account)
  }

  /** The control API as the signed-in account itself, never impersonating (it asks for the impersonated tokens). */
  signedInApi(account?: string): Api {
    return new Api(this.server(), this.session, account)
  }

  /** The service account this command acts as: --impersonate-service-account, else the property; undefined for none. */
  impersonated(cmd: Command): string | undefined {
    return (this.globals(cmd).impersonateServiceAccount ?? this.impersonationProperty())?.trim() || undefined
  }

  private impersonationProperty(): string | undefined {
    try {
      return this.files.readConfig().impersonate_service_account
    } catch {
      // A configuration that cannot be read is the command's to report (or mend: config configurations).
      return undefined
    }
  }

  /** Makes every API call of the command as `email` (main.ts, before the command runs). */
  impersonate(email: string, cmd: Command): void {
    this.impersonation = new Impersonation(
      email,
      async (sa) => (await this.signedInApi().call<{ accessToken: string }>('POST', generateAccessTokenPath(sa), {})).accessToken,
      (text) => this.warn(text, cmd),
    )
  }

  globals(cmd: Command): { project?: string; format?: string; quiet?: boolean; verbosity?: Verbosity; logHttp?: boolean; configuration?: string; impersonateServiceAccount?: string } {
    return cmd.optsWithGlobals()
  }

  project(cmd: Command): string {
    const project = this.globals(cmd).project ?? this.files.readConfig().project
    if (project) return project
    // A missing sign-in is reported first, as gcloud reports a missing account first: signing in
    // also sets the project when the account can open only one (auth-login.ts), and every command
    // that needs a project calls the API as the account anyway.
    this.session.signIn()
    throw new CliError('No project: pass --project or run: postern config set project PROJECT_ID')
  }

  format(cmd: Command, fallback: Format): Format {
    return parseFormat(this.globals(cmd).format, fallback)
  }

  quiet(cmd: Command): boolean {
    return Boolean(this.globals(cmd).quiet)
  }

  /** --verbosity (verbosity.ts), checked against its choices when parsed; gcloud's default is warning. */
  verbosity(cmd: Command): Verbosity {
    return this.globals(cmd).verbosity ?? 'warning'
  }

  /** `WARNING: …` on stderr, unless --verbosity asks for errors only or less. */
  warn(text: string, cmd: Command): void {
    if (showsWarnings(this.verbosity(cmd))) this.io.stderr(`WARNING: ${text.endsWith('\n') ? text : text + '\n'}`)
  }

  print(text: string): void {
    this.io.stdout(text)
  }

  /**
   * A list in the chosen format, sorted, filtered and cut first as the command's list flags say
   * (list-flags.ts); an empty one also says so on stderr, as gcloud does. `projected`: the row as
   * --format projections and --filter see it (output.ts). `empty`: what to say instead when there
   * is nothing at all to list (not when the flags left nothing). `uri`: a row's URL, which --uri
   * prints alone, one a line, as gcloud's does (withListFlags adds --uri where a row has one).
   */
  printList<T>(cmd: Command, all: readonly T[], columns: readonly Column<T>[], o: { fallback?: Format; projected?: (row: T) => unknown; empty?: string; uri?: (row: T) => string } = {}): void {
    const flags = cmd.opts<ListShape>()
    const uri = flags.uri ? o.uri : undefined
    // gcloud formats the list of URIs; here a URL a line is the one form, so --format is refused rather than ignored.
    if (uri && this.globals(cmd).format !== undefined) throw usageError('--uri prints one URL a line; leave out --format (or use --format=\'value(uri)\' without --uri).')
    const format = this.format(cmd, o.fallback ?? 'table')
    const rows = shapeList(all, flags, o.projected)
    if (rows.length === 0) this.status((all.length === 0 && o.empty) || 'Listed 0 items.', cmd)
    if (uri) return this.print(rows.map((r) => `${terminalSafe(uri(r))}\n`).join(''))
    this.print(formatList(rows, columns, format, { tty: this.io.stdoutIsTTY ?? false, projected: o.projected }))
  }

  printResource<T>(cmd: Command, value: T, o: { fallback?: Format; projected?: (value: T) => unknown } = {}): void {
    this.print(formatResource(value, this.format(cmd, o.fallback ?? 'yaml'), o.projected))
  }

  /**
   * One resource as a list command prints it when list flags are given (gcloud's get-iam-policy):
   * flattened, sorted, filtered and cut as they say (list-flags.ts); YAML documents by default.
   */
  printRecords(cmd: Command, resource: unknown): void {
    const format = this.format(cmd, 'yaml')
    if (format === 'table') throw usageError("--format=table needs the fields to show here, e.g. --format='table(bindings.role, bindings.members)'.")
    const records = shapeRecords([resource], cmd.opts<ListShape>())
    if (records.length === 0) this.status('Listed 0 items.', cmd)
    this.print(formatList(records, [], format, { tty: this.io.stdoutIsTTY ?? false }))
  }

  /**
   * Asks before something that cannot be undone when a person is at a terminal (gcloud's
   * "Do you want to continue (Y/n)?"); --quiet, or no terminal, goes ahead.
   */
  async confirm(cmd: Command, what: string): Promise<void> {
    if (this.quiet(cmd) || !this.io.stdinIsTTY || !this.io.prompt) return
    const answer = (await this.io.prompt(`${what}\n\nDo you want to continue (Y/n)?  `)).trim().toLowerCase()
    if (answer !== '' && answer !== 'y' && answer !== 'yes') throw new CliError('ERROR: Aborted by user.')
  }

  /** Status lines go to stderr (as gcloud's do), so stdout stays machine-readable. */
  status(text: string, cmd: Command): void {
    if (!this.quiet(cmd)) this.io.stderr(text.endsWith('\n') ? text : text + '\n')
  }
}
