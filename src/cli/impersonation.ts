import { CliError } from './errors.js'

/**
 * gcloud's --impersonate-service-account (and its property auth/impersonate_service_account):
 * every API call of the command is made with an access token of the service account, which the
 * signed-in account asks for (generateAccessToken; it needs roles/iam.serviceAccountTokenCreator
 * on the account). The token is asked for once a process, when the first call needs it, and the
 * warning gcloud prints is said then: a command that makes no call impersonates nobody.
 */
export class Impersonation {
  private pending: Promise<string> | undefined
  private current: string | undefined
  private warned = false

  constructor(
    readonly email: string,
    /** generateAccessToken, called as the signed-in account. */
    private readonly ask: (email: string) => Promise<string>,
    private readonly warn: (text: string) => void,
  ) {}

  accessToken(): Promise<string> {
    if (!this.warned) this.warn(impersonationWarning(this.email))
    this.warned = true
    this.pending ??= this.ask(this.email).then(
      (token) => (this.current = token),
      (err: unknown) => {
        this.pending = undefined
        throw refusal(this.email, err)
      },
    )
    return this.pending
  }

  /** The server refused the token (it expired during a long command): the next call asks again. */
  forget(token: string): void {
    if (this.current !== token) return
    this.pending = undefined
    this.current = undefined
  }
}

/** gcloud's words, said once by every command that acts as a service account (print-identity-token too). */
export function impersonationWarning(email: string): string {
  return `This command is using service account impersonation. All API calls will be executed as [${email}].`
}

/** A refused impersonation names the role it takes, as gcloud's "Failed to impersonate" does. */
function refusal(email: string, err: unknown): unknown {
  if (!(err instanceof CliError) || err.status !== 'PERMISSION_DENIED') return err
  return new CliError(
    `ERROR: (PERMISSION_DENIED) Failed to impersonate [${email}]: the account you are signed in as needs roles/iam.serviceAccountTokenCreator on it (postern iam service-accounts add-iam-policy-binding ${email} --member=… --role=roles/iam.serviceAccountTokenCreator, run by someone who may).\n${err.message.replace(/^ERROR: /, '')}`,
    1,
    'PERMISSION_DENIED',
  )
}

/** The API path of generateAccessToken for a service account (any project: the email names it). */
export function generateAccessTokenPath(email: string): string {
  return `/v1/projects/-/serviceAccounts/${encodeURIComponent(email)}:generateAccessToken`
}
