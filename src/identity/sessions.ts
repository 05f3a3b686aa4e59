import { randomToken, sha256 } from '../core/ids.js'
import type { SessionRecord } from '../store/records.js'
import type { Store } from '../store/store.js'

/**
 * Browser sessions (sign-in pages and console). The cookie holds a random value; the store keeps
 * only its SHA-256, so a copy of the database signs no one in. Each session has its own CSRF
 * token, which every state-changing request must echo.
 */
/**
 * The session cookie's name. With the `__Host-` prefix (RFC 6265bis §4.1.3.2) a browser keeps the
 * cookie only if it was set Secure, from this very host, with Path=/ and no Domain: no other host
 * — not a service behind the gateway on a sibling name, not a page on the same registrable
 * domain — can plant or overwrite it (session fixation by cookie tossing). The prefix needs
 * `Secure`, which browsers honour under TLS and on http://localhost and 127.0.0.1 (secure
 * contexts). Served as plain HTTP to browsers on another host (--allow-insecure-http without TLS
 * in front), a Secure cookie would never be stored, so no one could sign in: there the plain
 * name it is, and only SameSite=Strict and the gateway's refusal of any Set-Cookie for it guard it.
 */
export function sessionCookieName(secure: boolean): string {
  return secure ? '__Host-postern_session' : 'postern_session'
}
export const SESSION_TTL_MS = 12 * 3_600_000

export async function startSession(store: Store, subjectUid: string, now: number, ttlMs = SESSION_TTL_MS): Promise<{ cookie: string; record: SessionRecord }> {
  const cookie = randomToken(32)
  const record: SessionRecord = { sessionHash: sha256(cookie), subjectUid, csrfToken: randomToken(32), createTime: now, expireTime: now + Math.min(ttlMs, SESSION_TTL_MS) }
  await store.insertSession(record)
  return { cookie, record }
}

export async function findSession(store: Store, cookie: string | undefined, now: number): Promise<SessionRecord | undefined> {
  if (!cookie || cookie.length > 100) return undefined
  const record = await store.getSession(sha256(cookie))
  return record && record.expireTime > now ? record : undefined
}

export async function endSession(store: Store, cookie: string | undefined): Promise<void> {
  if (cookie && cookie.length <= 100) await store.deleteSession(sha256(cookie))
}

/** The value of one cookie from a Cookie header; the first wins if a name repeats. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  return cookieValues(header, name)[0]
}

/** A cookie's value when the request carries exactly one of that name: a second means another host or script planted one, and neither is trusted. */
export function readSoleCookie(header: string | undefined, name: string): string | undefined {
  const values = cookieValues(header, name)
  return values.length === 1 ? values[0] : undefined
}

function cookieValues(header: string | undefined, name: string): string[] {
  const values: string[] = []
  for (const part of header?.split(';') ?? []) {
    const eq = part.indexOf('=')
    if (eq >= 0 && part.slice(0, eq).trim() === name) values.push(part.slice(eq + 1).trim())
  }
  return values
}

export interface CookieOptions {
  secure: boolean
  maxAgeSeconds: number
}

/**
 * SameSite=Strict (DESIGN §7): the session is never sent with a request another site starts, so
 * no other site can make a signed-in browser approve a device or obtain an authorization code
 * without the user typing their password. The sign-in round trip still works: the POST to
 * /signin comes from our own page, and its redirect to /oauth2/authorize stays on this site, so
 * the fresh cookie goes along; the CLI opens the authorize URL as a browser-initiated navigation
 * (no initiating site), which browsers treat as same-site too. Lax would add nothing we need and
 * would let any site trigger a silent authorization.
 */
export function sessionCookie(value: string, o: CookieOptions): string {
  return `${sessionCookieName(o.secure)}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${o.maxAgeSeconds}${o.secure ? '; Secure' : ''}`
}

export function clearedCookie(name: string, secure: boolean): string {
  return `${name}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0${secure ? '; Secure' : ''}`
}
