import type { Command } from 'commander'
import type { Cli } from '../context.js'
import { deviceLogin } from '../device-login.js'
import { loopbackLogin } from '../loopback-login.js'
import { accountOf, discover, type TokenSet } from '../oidc-client.js'
import { openBrowser } from '../open-browser.js'

/**
 * `postern auth login [--no-browser]` (DESIGN §6): the browser flow on a loopback redirect, or
 * the device flow when no browser can be opened or --no-browser is given. The account is added
 * to the credentials (others are kept) and becomes the active one.
 */
export function registerLogin(auth: Command, cli: Cli): void {
  auth
    .command('login')
    .description('Sign in as a user: opens a browser (or, with --no-browser, prints a URL and a code to approve on any device).')
    .option('--no-browser', 'do not open a browser; use the device flow')
    .action(async (o: { browser: boolean }, cmd: Command) => {
      const server = cli.server()
      const endpoints = await discover(server)
      const say = (text: string) => cli.io.stderr(text.endsWith('\n') ? text : text + '\n')
      let tokens: TokenSet | undefined
      let nonce: string | undefined
      if (o.browser) {
        const outcome = await loopbackLogin(endpoints, { open: (url) => openBrowser(url, cli.io.env), say })
        if (outcome.kind === 'signed-in') {
          tokens = outcome.tokens
          nonce = outcome.nonce
        } else {
          say('Could not open a browser on this machine; signing in with a code instead.\n')
        }
      }
      tokens ??= await deviceLogin(endpoints, { say })
      const { email, expiry } = accountOf(tokens, { issuer: endpoints.issuer, nonce })
      await cli.files.withLock(async () => {
        const credentials = cli.files.readCredentials()
        credentials.accounts[email] = {
          type: 'user',
          server,
          refreshToken: tokens.refresh_token,
          idToken: tokens.access_token ?? tokens.id_token,
          idTokenExpiry: expiry,
        }
        cli.files.writeCredentials(credentials)
        cli.files.writeConfig({ ...cli.files.readConfig(), server, account: email })
      })
      cli.status(`\nYou are now logged in as [${email}].`, cmd)
    })
}
