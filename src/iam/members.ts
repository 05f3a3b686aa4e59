import { closest } from '../core/closest.js'
import { invalid } from '../core/errors.js'

/**
 * Members (principals) as they appear in bindings, DESIGN §1. Parsed once at the boundary:
 * a `Member` is always in its canonical form (lowercased ASCII email, known prefix).
 */
export type Member =
  | `user:${string}`
  | `group:${string}`
  | `serviceAccount:${string}`
  | `domain:${string}`
  | 'allUsers'
  | 'allAuthenticatedUsers'
  | `principal://${string}`
  | `principalSet://${string}`
  | `deleted:${string}`

export type EmailKind = 'user' | 'group' | 'serviceAccount'

export const FEDERATION_PREFIX = 'iam.postern/workforcePools/'
export const POOL_ID = /^[a-z][a-z0-9-]{4,61}[a-z0-9]$/
const DOT_ATOM = /^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/
const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/
const SUBJECT = /^[\x21-\x7e]{1,127}$/ // printable ASCII, no spaces
export const ATTRIBUTE_NAME = /^[a-z_][a-z0-9_]{0,99}$/
const UID = /^[A-Za-z0-9-]{1,64}$/
const NON_ASCII = /[^\p{ASCII}]/u

/**
 * A domain name in ASCII (punycode for internationalised names): a non-ASCII or
 * look-alike character never reaches a comparison, so "аdmin" (Cyrillic а) is not "admin".
 */
export function isDomainName(text: string): boolean {
  if (text.length > 253 || NON_ASCII.test(text)) return false
  const labels = text.split('.')
  return labels.length >= 2 && labels.every((l) => LABEL.test(l)) && !/^\d+$/.test(labels.at(-1) ?? '')
}

/** Lowercases and validates an email; returns undefined when it is not one. */
export function normalizeEmail(raw: string): string | undefined {
  // ASCII is checked before lowercasing: some non-ASCII letters lowercase to ASCII (KELVIN SIGN
  // U+212A becomes 'k'), which would turn a look-alike into the real identity.
  if (raw.length > 254 || NON_ASCII.test(raw)) return undefined
  const email = raw.toLowerCase()
  const at = email.lastIndexOf('@')
  if (at <= 0 || at > 64) return undefined
  const local = email.slice(0, at)
  const domain = email.slice(at + 1)
  return DOT_ATOM.test(local) && isDomainName(domain) ? email : undefined
}

export function parseEmail(raw: string, what = 'email'): string {
  const email = normalizeEmail(raw)
  if (!email) {
    const hint = NON_ASCII.test(raw) ? ' (only ASCII is accepted; write an internationalised domain in its punycode form, xn--…)'
      : raw !== raw.trim() && normalizeEmail(raw.trim()) ? ' (it has spaces at its start or end; remove them)' : ''
    throw invalid(`Invalid ${what} '${printable(raw)}'${hint}.`)
  }
  return email
}

/** Parses a member string into its canonical form or throws INVALID_ARGUMENT naming it. */
export function parseMember(raw: unknown): Member {
  if (typeof raw !== 'string') throw invalid('Members must be strings.')
  const member = tryParseMember(raw)
  if (!member) throw invalid(`Invalid member '${printable(raw)}': ${memberHint(raw)}`)
  return member
}

export function tryParseMember(raw: string): Member | undefined {
  if (raw === 'allUsers' || raw === 'allAuthenticatedUsers') return raw
  if (NON_ASCII.test(raw)) return undefined // before any toLowerCase(), see normalizeEmail
  const colon = raw.indexOf(':')
  if (colon < 0) return undefined
  const prefix = raw.slice(0, colon)
  const rest = raw.slice(colon + 1)
  switch (prefix.toLowerCase()) {
    case 'user':
    case 'group': {
      const email = normalizeEmail(rest)
      return email ? (`${prefix.toLowerCase() as 'user' | 'group'}:${email}` as const) : undefined
    }
    case 'serviceaccount': {
      const email = normalizeEmail(rest)
      return email ? (`serviceAccount:${email}` as const) : undefined
    }
    case 'domain': {
      const domain = rest.toLowerCase()
      return isDomainName(domain) ? (`domain:${domain}` as const) : undefined
    }
    case 'deleted':
      return parseDeleted(rest)
    case 'principal':
      return parsePrincipal(rest)
    case 'principalset':
      return parsePrincipalSet(rest)
    default:
      return undefined
  }
}

function parseDeleted(rest: string): Member | undefined {
  // deleted:KIND:EMAIL?uid=UID. A local part may itself hold '?' (RFC 5322 atext), and a uid never
  // does, so the uid starts after the last '?uid='.
  const colon = rest.indexOf(':')
  const query = rest.lastIndexOf('?uid=')
  if (colon < 0 || query < colon) return undefined
  const kind = EMAIL_KINDS.get(rest.slice(0, colon).toLowerCase())
  const uid = rest.slice(query + '?uid='.length)
  const email = normalizeEmail(rest.slice(colon + 1, query))
  return kind && email && UID.test(uid) ? deletedMember(kind, email, uid) : undefined
}

const EMAIL_KINDS = new Map<string, EmailKind>([
  ['user', 'user'],
  ['group', 'group'],
  ['serviceaccount', 'serviceAccount'],
])

function parsePrincipal(rest: string): Member | undefined {
  // principal://iam.postern/workforcePools/POOL/subject/SUBJECT
  if (!rest.startsWith('//' + FEDERATION_PREFIX)) return undefined
  const parts = rest.slice(2 + FEDERATION_PREFIX.length).split('/')
  const [pool, kind, ...subject] = parts
  const value = subject.join('/')
  if (!pool || !POOL_ID.test(pool) || kind !== 'subject' || !SUBJECT.test(value)) return undefined
  return `principal://${FEDERATION_PREFIX}${pool}/subject/${value}`
}

function parsePrincipalSet(rest: string): Member | undefined {
  if (!rest.startsWith('//' + FEDERATION_PREFIX)) return undefined
  const [pool, kind, ...tail] = rest.slice(2 + FEDERATION_PREFIX.length).split('/')
  if (!pool || !POOL_ID.test(pool)) return undefined
  const base = `principalSet://${FEDERATION_PREFIX}${pool}` as const
  if (kind === '*' && tail.length === 0) return `${base}/*`
  const value = tail.join('/')
  if (kind === 'group' && SUBJECT.test(value)) return `${base}/group/${value}`
  if (kind?.startsWith('attribute.') && ATTRIBUTE_NAME.test(kind.slice(10)) && SUBJECT.test(value)) {
    return `${base}/${kind}/${value}`
  }
  return undefined
}

function memberHint(raw: string): string {
  if (raw !== raw.trim() && tryParseMember(raw.trim())) return 'it has spaces at its start or end; remove them.'
  if (NON_ASCII.test(raw)) {
    return 'members must be ASCII; write an internationalised domain in its punycode form (xn--…).'
  }
  if (!raw.includes(':') && raw.includes('@')) return `a member needs a type prefix, e.g. 'user:${printable(raw)}'.`
  // (A type in any case is one: then what follows it is what is wrong.)
  const typo = /^([A-Za-z]+):([^:/]*@.*)$/.exec(raw)
  const meant = typo && !EMAIL_KINDS.has(typo[1]!.toLowerCase()) && closest(typo[1]!.toLowerCase(), EMAIL_KINDS.keys())
  if (meant) return `did you mean '${EMAIL_KINDS.get(meant)!}:${printable(typo![2]!)}'? (A member's type is user:, group:, serviceAccount: or domain:.)`
  const kind = /^(user|group|serviceAccount):(.*)$/i.exec(raw)
  if (kind && !kind[2]!.includes('@')) return `an email address is needed after ${kind[1]}:, e.g. ${kind[1]}:${printable(kind[2]!) || 'ann'}@example.com.`
  if (/^domain:/i.test(raw)) return 'a domain name such as example.com is needed after domain:.'
  const federated = /^principal(?:Set)?:\/\/iam\.postern\/workforcePools\/([^/]*)/.exec(raw)
  if (federated && !POOL_ID.test(federated[1]!)) {
    return `'${printable(federated[1]!)}' is no workforce pool id: 6 to 63 lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen.`
  }
  return "expected user:EMAIL, group:EMAIL, serviceAccount:EMAIL, domain:DOMAIN, allUsers, allAuthenticatedUsers, principal://iam.postern/workforcePools/POOL/subject/SUBJECT or principalSet://iam.postern/workforcePools/POOL/(group/GROUP|attribute.NAME/VALUE|*)."
}

/** Shows untrusted input in a message without control characters and without unbounded length. */
export function printable(raw: string): string {
  const clean = raw.replace(/\p{Cc}/gu, '?') // C0, DEL and C1 controls
  return clean.length > 200 ? clean.slice(0, 200) + '…' : clean
}

/** The member that names this email identity, e.g. `user:ann@x.com`. */
export function emailMember(kind: EmailKind, email: string): Member {
  return `${kind}:${email}` as Member
}

/** What a binding of a deleted identity reads like, DESIGN §1. */
export function deletedMember(kind: EmailKind, email: string, uid: string): Member {
  return `deleted:${kind}:${email}?uid=${uid}`
}
