import type { Command } from 'commander'
import type { Cli } from '../context.js'
import { CliError, usageError } from '../errors.js'
import { request, TransportError } from '../http-client.js'
import { readKeyFile } from '../key-file.js'
import { shapeList, withListFlags, type ListShape } from '../list-flags.js'
import { formatList } from '../output.js'
import { registerLogin } from './auth-login.js'
import { findSignIn, putSignIn, removeSignIn, sameServer, serverKey, signInsOf, type SignIn } from '../../core/cli-credentials.js'
import { CLI_CLIENT_ID } from '../../api/clients.js'
import { generateAccessTokenPath, impersonationWarning } from '../impersonation.js'

/** `postern auth …`: accounts, tokens, sign-out. (Browser and device sign-in: auth-login.ts.) */
export function registerAuth(program: Command, cli: Cli): Command {
  const auth = program.command('auth').description('Sign in, list accounts, print access and ID tokens.')
  registerLogin(auth, cli)

  withListFlags(auth.command('list'))
    .description('List the accounts with credentials, with their servers when there are several; * marks the one this configuration uses.')
    .action(async (o: ListShape, cmd: Command) => {
      const active = cli.files.readConfig().account
      const server = cli.server()
      const { signIns } = cli.files.readCredentials()
      // The active account at this configuration's server: the sign-in its commands use. `status`
      // as gcloud prints it (ACTIVE, or empty), so its idiom works here:
      // postern auth list --filter=status:ACTIVE --format='value(account)'
      const accounts = signIns.map((s) => {
        const isActive = s.account === active && sameServer(s.server, server)
        return { active: isActive, account: s.account, status: isActive ? 'ACTIVE' : '', type: s.type, server: s.server }
      })
      // One email can be signed in at two Posterns; then only the server tells the rows apart.
      const servers = new Set(signIns.map((s) => serverKey(s.server))).size
      const format = cli.format(cmd, 'table')
      if (format === 'table' && accounts.length === 0) {
        cli.print('No credentialed accounts.\n\nTo sign in, run:\n  $ postern auth login\n')
        return
      }
      const rows = shapeList(accounts, o)
      // What every list says when --filter or --limit leaves nothing (the words above are for no account at all).
      if (rows.length === 0 && accounts.length > 0) cli.status('Listed 0 items.', cmd)
      const table = format === 'table' && rows.length > 0
      if (table) cli.print('Credentialed Accounts\n')
      cli.print(formatList(rows, [
        { header: 'ACTIVE', value: (a) => (a.active ? '*' : '') },
        { header: 'ACCOUNT', value: (a) => a.account },
        ...(servers > 1 ? [{ header: 'SERVER', value: (a: (typeof accounts)[number]) => a.server }] : []),
      ], format))
      if (table) cli.print('\nTo set the active account, run:\n  $ postern config set account `ACCOUNT`\n')
    })

  auth
    .command('print-access-token [account]')
    .description('Print an access token for the Postern API (the control plane) for the active (or given) account.')
    .option('--impersonate-service-account <email>', 'print an access token of this service account instead, asked for as the active (or given) account (which needs roles/iam.serviceAccountTokenCreator on it); the global flag, and the property auth/impersonate_service_account too')
    .action(async (account: string | undefined, _o, cmd: Command) => {
      // The global flag (main.ts) is the one commander fills in, wherever it is typed.
      const sa = cli.impersonated(cmd)
      if (sa) cli.warn(impersonationWarning(sa), cmd)
      const token = sa
        ? (await cli.signedInApi(account).call<{ accessToken: string }>('POST', generateAccessTokenPath(sa), {})).accessToken
        : await cli.session.accessToken(account)
      printToken(cli, cmd, { token })
    })

  auth
    .command('print-identity-token [account]')
    .description('Print an ID token, for calling services, for the active (or given) account.')
    .option('--audiences <aud>', 'the audience (aud) of the token, e.g. the service URL')
    .option('--impersonate-service-account <email>', 'print a token of this service account instead, asked for as the active (or given) account (which needs roles/iam.serviceAccountTokenCreator on it); the global flag, and the property auth/impersonate_service_account too')
    .option('--include-email', 'include the email claim (service-account tokens)')
    .action(async (account: string | undefined, o: { audiences?: string; includeEmail?: boolean }, cmd: Command) => {
      if (o.audiences !== undefined && (o.audiences.includes(',') || !o.audiences.trim())) throw new CliError('--audiences takes one audience.', 2)
      const sa = cli.impersonated(cmd)
      if (sa) cli.warn(impersonationWarning(sa), cmd)
      const token = sa
        ? (await cli.signedInApi(account).call<{ token: string }>('POST', `/v1/projects/-/serviceAccounts/${encodeURIComponent(sa)}:generateIdToken`, {
          audience: o.audiences ?? CLI_CLIENT_ID,
          includeEmail: Boolean(o.includeEmail),
        })).token
        : await cli.session.idToken({ audience: o.audiences, includeEmail: o.includeEmail }, account)
      printToken(cli, cmd, { id_token: token })
    })

  auth
    .command('activate-service-account [account]')
    .description('Sign in as a service account with a key file (from postern iam service-accounts keys create); ACCOUNT, as gcloud takes it, must be the key\'s own.')
    .requiredOption('--key-file <file>', 'the JSON key file')
    .action(async (account: string | undefined, o: { keyFile: string }, cmd: Command) => {
      const keyFile = readKeyFile(o.keyFile)
      const email = keyFile.client_email!
      if (account !== undefined && account.trim().toLowerCase() !== email.toLowerCase()) throw usageError(`${o.keyFile} is the key of ${email}, not of ${account}.`)
      const server = new URL(keyFile.token_uri!).origin
      // A key that does not work (deleted, its account disabled) is refused before anything is
      // kept: neither stored nor made the active account in place of the one that was.
      const tokens = await cli.session.firstTokens(email, server, keyFile)
      await cli.files.withLock(async () => {
        const credentials = cli.files.readCredentials()
        putSignIn(credentials, { account: email, type: 'service_account', server, keyFile, ...tokens })
        cli.files.writeCredentials(credentials)
      })
      cli.files.writeConfig({ ...cli.files.readConfig(), account: email, server: cli.files.readConfig().server ?? server })
      cli.status(`Activated service account credentials for: [${email}]`, cmd)
    })

  auth
    .command('revoke [account]')
    .description('Revoke the account’s credentials (its sign-in at this configuration’s server) there and forget them here (a server that cannot be reached is warned of; they are forgotten anyway).')
    .option('--all', 'revoke every account’s credentials, at every server')
    .action(async (account: string | undefined, o: { all?: boolean }, cmd: Command) => {
      if (o.all && account !== undefined) throw usageError('Name an account or pass --all, not both.')
      const before = cli.files.readCredentials()
      const targets = o.all ? before.signIns : [toRevoke(cli, account ?? cli.session.activeAccount())]
      for (const target of targets) {
        if (target.refreshToken) await revokeAtServer(cli, cmd, target.account, target.server, target.refreshToken)
        await cli.files.withLock(async () => {
          const credentials = cli.files.readCredentials()
          removeSignIn(credentials, target.server, target.account)
          cli.files.writeCredentials(credentials)
          const config = cli.files.readConfig()
          // Still the active account while it has a sign-in at this configuration's server.
          if (config.account === target.account && !findSignIn(credentials, cli.server(), target.account)) {
            delete config.account
            cli.files.writeConfig(config)
          }
        })
      }
      // The server is named only where the email alone would not say which sign-in went.
      const label = (s: SignIn) => (signInsOf(before, s.account).length > 1 ? `${s.account} (at ${s.server})` : s.account)
      cli.status(targets.length > 0 ? `Revoked credentials:\n${targets.map((t) => ` - ${label(t)}`).join('\n')}` : 'No credentials to revoke.', cmd)
    })
  return auth
}

/**
 * A token as gcloud prints it: the bare token (its default format, `value(token)` or
 * `value(id_token)`), or, with --format, the one-field resource gcloud's is
 * (`{"token": …}` for an access token, `{"id_token": …}` for an ID token).
 */
function printToken(cli: Cli, cmd: Command, resource: { token: string } | { id_token: string }): void {
  cli.printResource(cmd, resource, { fallback: 'token' in resource ? 'value(token)' : 'value(id_token)' })
}

/**
 * The sign-in `auth revoke ACCOUNT` ends: the account's at this configuration's server; else its
 * only one, wherever it is (its server may be gone: the credentials are still forgotten here).
 * Of several elsewhere, the CLI cannot choose.
 */
function toRevoke(cli: Cli, account: string): SignIn {
  const credentials = cli.files.readCredentials()
  const server = cli.server()
  const here = findSignIn(credentials, server, account)
  if (here) return here
  const others = signInsOf(credentials, account)
  if (others.length === 1) return others[0]!
  if (others.length === 0) throw new CliError(`No credentials for ${account}.`)
  throw new CliError(`${account} is signed in at ${others.map((s) => s.server).join(' and ')}, not at ${server}: revoke it from a configuration that talks to one of them (postern --configuration NAME auth revoke ${account}, or postern config set server URL first), or revoke every sign-in (postern auth revoke --all).`)
}

/**
 * Ends the sign-in a refresh token carries at the server that issued it. Credentials are forgotten
 * here even when that fails (the server is gone for good, say); the warning says the sign-in may
 * still be valid there, so nobody takes "revoked" for more than it was.
 */
async function revokeAtServer(cli: Cli, cmd: Command, email: string, server: string, refreshToken: string): Promise<void> {
  try {
    const res = await request(`${server}/oauth2/revoke`, { method: 'POST', body: new URLSearchParams({ token: refreshToken }) })
    if (!res.ok) cli.warn(`${server} answered ${res.status} to the revocation of ${email}'s sign-in; the credentials are forgotten here anyway.`, cmd)
  } catch (err) {
    if (!(err instanceof TransportError)) throw err
    cli.warn(`${err.message}\nThe sign-in of ${email} was not revoked there and stays valid until it expires; the credentials are forgotten here anyway.`, cmd)
  }
}
