import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { Option, type Command } from 'commander'
import type { Cli } from '../context.js'
import { deviceLogin } from '../device-login.js'
import { loopbackLogin } from '../loopback-login.js'
import { accountOf, discover, type TokenSet } from '../oidc-client.js'
import { openBrowser } from '../open-browser.js'
import { CliError, usageError } from '../errors.js'
import { request } from '../http-client.js'
import { exchangeSubjectToken, principalOf, readLoginConfig, signInExternally } from '../federated-login.js'
import { localExpiryOf } from '../session.js'
import { findSignIn, putSignIn } from '../../core/cli-credentials.js'

/**
 * `postern auth login [ACCOUNT] [--no-browser]` (DESIGN §6): the browser flow on a loopback
 * redirect, or the device flow when no browser can be opened or --no-browser is given. The
 * account's sign-in at this server is added to the credentials (others, and its own at other
 * servers, are kept) and it becomes the active one. ACCOUNT, as gcloud takes it: a sign-in this
 * CLI holds for it is made active again (unless --force), and one of another account is refused.
 */
export function registerLogin(auth: Command, cli: Cli): void {
  auth
    .command('login')
    .description('Sign in as a user: opens a browser (or, with --no-browser, prints a URL and a code to approve on any device).')
    .argument('[account]', 'the account to sign in as; one already signed in here is made active again')
    .option('--no-browser', 'do not open a browser; use the device flow')
    .option('--force', 'with ACCOUNT: sign in again even when this CLI holds a working sign-in of it')
    // gcloud's older name for --no-browser, which its users still type (and gcloud still takes).
    .addOption(new Option('--no-launch-browser').hideHelp())
    .option('--login-config <file>', 'sign in through a workforce pool provider (from postern iam workforce-pools create-login-config)')
    .option('--subject-token-file <file>', 'with --login-config: exchange the OIDC ID token in this file instead of signing in in a browser (machines, CI)')
    .action(async (account: string | undefined, given: { browser: boolean; launchBrowser: boolean; force?: boolean; loginConfig?: string; subjectTokenFile?: string }, cmd: Command) => {
      const o = { ...given, browser: given.browser && given.launchBrowser }
      if (o.subjectTokenFile && !o.loginConfig) throw usageError('--subject-token-file needs --login-config (which names the server and the provider).')
      if (o.loginConfig) {
        if (account !== undefined) throw usageError('ACCOUNT with --login-config: the identity provider decides who signs in.')
        await federatedLogin(cli, cmd, { loginConfig: o.loginConfig, subjectTokenFile: o.subjectTokenFile, browser: o.browser })
        return
      }
      const server = cli.server()
      if (account !== undefined && !o.force && (await reuseSignIn(cli, cmd, account, server))) return
      const endpoints = await discover(server)
      const say = (text: string) => cli.io.stderr(text.endsWith('\n') ? text : text + '\n')
      let tokens: TokenSet | undefined
      let nonce: string | undefined
      if (o.browser) {
        const outcome = await loopbackLogin(endpoints, { open: (url) => openBrowser(url, cli.io.env), say, loginHint: account })
        if (outcome.kind === 'signed-in') {
          tokens = outcome.tokens
          nonce = outcome.nonce
        } else {
          say('Could not open a browser on this machine; signing in with a code instead.\n')
        }
      }
      tokens ??= await deviceLogin(endpoints, { say, loginHint: account })
      const { email, federated } = accountOf(tokens, { issuer: endpoints.issuer, nonce })
      if (account !== undefined && email.toLowerCase() !== account.trim().toLowerCase()) {
        // The other account's new sign-in is ended at the server, not just left unsaved here.
        if (tokens.refresh_token) await request(`${server}/oauth2/revoke`, { method: 'POST', body: new URLSearchParams({ token: tokens.refresh_token }) }).catch(() => undefined)
        throw new CliError(
          `You attempted to log in as account [${account}] but the received credentials were for account [${email}]; nothing was saved.\n` +
            `Sign in as ${account} in the browser (or sign out there first), then run postern auth login ${account} again.`,
        )
      }
      await cli.files.withLock(async () => {
        const credentials = cli.files.readCredentials()
        // Beside this account's sign-ins at other servers, which stay (cli-credentials.ts).
        putSignIn(credentials, {
          account: email,
          type: federated ? 'federated' : 'user',
          server,
          refreshToken: tokens.refresh_token,
          ...cachedTokens(tokens),
        })
        cli.files.writeCredentials(credentials)
        cli.files.writeConfig({ ...cli.files.readConfig(), server, account: email })
      })
      cli.status(`\nYou are now logged in as [${email}].`, cmd)
      await chooseProject(cli, cmd)
    })
}

/**
 * `auth login ACCOUNT` for an account this CLI holds a sign-in of at this server: it becomes the
 * active one again with no browser, as gcloud re-uses stored credentials — once the server has
 * renewed its tokens (its cached ones dropped first), so that one revoked or expired meanwhile is
 * not reused: the command signs in afresh.
 */
async function reuseSignIn(cli: Cli, cmd: Command, account: string, server: string): Promise<boolean> {
  const held = findSignIn(cli.files.readCredentials(), server, account.trim().toLowerCase())
  if (!held || held.type !== 'user') return false
  try {
    if (held.accessToken) await cli.session.forgetTokens(held.accessToken, held.account, server)
    await cli.session.accessToken(held.account, server)
  } catch {
    return false
  }
  await cli.files.withLock(async () => cli.files.writeConfig({ ...cli.files.readConfig(), server, account: held.account }))
  cli.warn(`Re-using locally stored credentials for [${held.account}]. To fetch new credentials, re-run the command with the --force flag.`, cmd)
  cli.status(`You are now logged in as [${held.account}].`, cmd)
  return true
}

/**
 * With no project configured, the one project the account can open becomes the current one, as
 * gcloud init sets it, so that the commands a developer types next work; with several, the CLI
 * says how to choose. A failure to list leaves the sign-in as it is.
 */
async function chooseProject(cli: Cli, cmd: Command): Promise<void> {
  if (cli.files.readConfig().project !== undefined) return
  let ids: string[]
  try {
    const { projects = [] } = await cli.api().call<{ projects?: { projectId: string }[] }>('GET', '/v1/projects')
    ids = projects.map((p) => p.projectId)
  } catch {
    return
  }
  if (ids.length === 1) {
    await cli.files.withLock(async () => cli.files.writeConfig({ ...cli.files.readConfig(), project: ids[0] }))
    cli.status(`Your current project is [${ids[0]}] (to change it: postern config set project PROJECT_ID).`, cmd)
  } else if (ids.length > 1) {
    cli.status(`Choose a project: postern config set project PROJECT_ID (you can open ${ids.join(', ')}).`, cmd)
  }
}

/**
 * `postern auth login --login-config FILE [--subject-token-file F]`: sign in at the
 * external identity provider (or take the token a machine already holds), exchange its ID token
 * for Postern's, and keep the federated account (type 'federated') like any other: its refresh
 * token renews ID tokens until the pool's session ends.
 */
async function federatedLogin(cli: Cli, cmd: Command, o: { loginConfig: string; subjectTokenFile?: string; browser: boolean }): Promise<void> {
  const config = readLoginConfig(o.loginConfig)
  const say = (text: string) => cli.io.stderr(text.endsWith('\n') ? text : text + '\n')
  let subjectToken: string
  let tokenType: 'id_token' | 'jwt' = 'id_token'
  let subjectTokenFile: string | undefined
  if (o.subjectTokenFile) {
    subjectTokenFile = resolve(o.subjectTokenFile)
    try {
      subjectToken = readFileSync(subjectTokenFile, 'utf8').trim()
    } catch (err) {
      throw new CliError(`Cannot read --subject-token-file ${o.subjectTokenFile}: ${(err as Error).message}`)
    }
    // A CI system's token is an OIDC ID token too, but it may not say so; both types verify the same way.
    tokenType = 'jwt'
  } else {
    if (!o.browser) throw usageError('--no-browser with --login-config: the identity provider is signed in to in a browser; on a machine without one, use --subject-token-file.')
    const token = await signInExternally(config, { open: (url) => openBrowser(url, cli.io.env), say })
    if (token === 'no-browser') throw new CliError('Could not open a browser on this machine. Sign in where one can be opened, or pass an OIDC token with --subject-token-file.')
    subjectToken = token
  }
  const tokens = await exchangeSubjectToken(config, subjectToken, tokenType)
  const { member } = principalOf(tokens.id_token)
  const sessionEnd = tokens.refresh_token_expires_in !== undefined ? Date.now() + tokens.refresh_token_expires_in * 1000 : undefined
  await cli.files.withLock(async () => {
    const credentials = cli.files.readCredentials()
    putSignIn(credentials, {
      account: member,
      type: 'federated',
      server: config.server,
      refreshToken: tokens.refresh_token,
      ...cachedTokens(tokens),
      federation: { audience: config.audience, loginConfig: config.path, ...(subjectTokenFile && { subjectTokenFile }), ...(sessionEnd && { sessionEnd }) },
    })
    cli.files.writeCredentials(credentials)
    cli.files.writeConfig({ ...cli.files.readConfig(), server: config.server, account: member })
  })
  cli.status(`\nYou are now logged in as [${member}].${sessionEnd ? ` The session ends at ${new Date(sessionEnd).toISOString()}.` : ''}`, cmd)
  await chooseProject(cli, cmd)
}

/** What a fresh sign-in leaves in the credentials besides its refresh token: both tokens, until they expire. */
function cachedTokens(tokens: TokenSet, receivedAt = Date.now()): { accessToken?: string; accessTokenExpiry?: number; idToken: string; idTokenExpiry: number } {
  return {
    ...(tokens.access_token && { accessToken: tokens.access_token, accessTokenExpiry: localExpiryOf(tokens.access_token, receivedAt) }),
    idToken: tokens.id_token,
    idTokenExpiry: localExpiryOf(tokens.id_token, receivedAt),
  }
}
