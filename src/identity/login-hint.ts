import { normalizeEmail } from '../iam/members.js'

/**
 * An authorization request's or sign-in page's `login_hint` (OIDC Core §3.1.2.1): the account the
 * client means, offered in the sign-in form. Only an email address is taken; anything else is no
 * hint (a hint is never an error).
 */
export function loginHintOf(query: URLSearchParams): string | undefined {
  const hint = query.get('login_hint')?.trim()
  return hint ? normalizeEmail(hint) : undefined
}
