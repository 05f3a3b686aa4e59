import { normalizeEmail } from '../iam/members.js'

/**
 * An authorization request's, device authorization request's or sign-in page's `login_hint`
 * (OIDC Core §3.1.2.1): the account the client means, offered in the sign-in form and named on
 * the device page. Only an email address is taken; anything else is no hint (a hint is never an
 * error). A query or a form alike.
 */
export function loginHintOf(fields: { get(name: string): string | null | undefined }): string | undefined {
  const hint = fields.get('login_hint')?.trim()
  return hint ? normalizeEmail(hint) : undefined
}
