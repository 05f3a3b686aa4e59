import { shellWord } from './sign-in-command.js'

/**
 * What to say when the configuration names no account. With no credentials for its server, the
 * way on is to sign in. With some (`auth revoke` unsets the account it revoked, though others
 * stay; `config unset account`), signing in again is not needed: gcloud says there is no active
 * account and how to pick one of those it holds (`gcloud config set account ACCOUNT`), and so
 * does this, naming the accounts stored for this server (those of other servers would be refused
 * here: their tokens are theirs alone).
 */
export function noActiveAccount(server: string, accountsHere: readonly string[]): string {
  if (accountsHere.length === 0) return 'You are not signed in. Run: postern auth login'
  const accounts = [...new Set(accountsHere)]
  const pick = accounts.length === 1 ? `To use it, run: postern config set account ${shellWord(accounts[0]!)}` : 'To use one, run: postern config set account ACCOUNT'
  return [
    `You do not currently have an active account selected. Credentials for ${server} are stored for:`,
    ...accounts.map((a) => `  ${a.replace(/\p{Cc}/gu, '?')}`),
    pick,
    'or sign in as another: postern auth login',
  ].join('\n')
}
