/**
 * The command that gets credentials for `account`, named in the messages that say it has none
 * (gcloud says `gcloud auth login`, and for a service account `activate-service-account`): a
 * service account activates a key of its own; a federated principal signs in with its pool's
 * login configuration; anyone else signs in as that account, so that the sign-in is of it.
 */
export function signInCommand(account: string): string {
  if (account.startsWith('principal://')) return 'postern auth login --login-config LOGIN_CONFIG_FILE'
  const word = shellWord(account)
  if (/^[^@\s]+@[^@\s]+\.iam\.postern\.internal$/.test(account)) return `postern auth activate-service-account ${word} --key-file=FILE`
  return `postern auth login ${word}`
}

/** The account as one shell word, its control characters shown as `?` (it may come from a hand-edited file). */
export function shellWord(text: string): string {
  const shown = text.replace(/\p{Cc}/gu, '?')
  return /^[\w@%+=:,./-]+$/.test(shown) ? shown : `'${shown.replace(/'/g, `'\\''`)}'`
}
