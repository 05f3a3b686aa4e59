import { PLAIN_HTTP_REFUSED } from '../http/plain-on-tls-port.js'
import { CliError } from './errors.js'
import { request, requestSafely } from './http-client.js'

/** The parts of the server's discovery document the CLI uses to sign in. */
export interface ServerEndpoints {
  issuer: string
  authorization_endpoint: string
  token_endpoint: string
  device_authorization_endpoint: string
}

export const LOGIN_SCOPE = 'openid email offline_access'

export interface TokenSet {
  id_token: string
  access_token?: string
  refresh_token?: string
}

export async function discover(server: string): Promise<ServerEndpoints> {
  const res = await requestSafely(`${server}/.well-known/openid-configuration`, { headers: { accept: 'application/json' } })
  const doc = (await res.json().catch(() => undefined)) as (Partial<ServerEndpoints> & { error?: { message?: unknown } }) | undefined
  if (!res.ok || !doc?.token_endpoint || !doc.authorization_endpoint || !doc.device_authorization_endpoint || !doc.issuer) {
    // A Postern whose port speaks HTTPS, asked over plain HTTP, says so: the URL to set instead.
    if (doc?.error?.message === PLAIN_HTTP_REFUSED && server.startsWith('http:')) {
      throw new CliError(`${server} speaks HTTPS: postern config set server ${server.replace(/^http:/, 'https:')}`)
    }
    throw new CliError(`${server} does not look like a Postern server (no OpenID discovery document). Check: postern config get server`)
  }
  return doc as ServerEndpoints
}

/** POSTs a form to an OAuth endpoint; OAuth errors come back as values, not exceptions, for polling. */
export async function postForm(url: string, form: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await request(url, { method: 'POST', body: new URLSearchParams(form), headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' } })
  const body = (await res.json().catch(() => ({}))) as Record<string, unknown>
  return { status: res.status, body }
}

export function oauthFailure(what: string, body: Record<string, unknown>, status: number): CliError {
  const why = typeof body.error_description === 'string' ? body.error_description : typeof body.error === 'string' ? body.error : `HTTP ${status}`
  return new CliError(`${what} failed: ${why}`)
}

/**
 * The email a fresh token set belongs to. The tokens came straight from the token endpoint over
 * the connection the CLI opened (OIDC Core §3.1.3.7: TLS stands in for the signature check), so
 * only issuer and nonce are checked here.
 */
export function accountOf(tokens: TokenSet, o: { issuer: string; nonce?: string }): { email: string; expiry: number; federated: boolean } {
  const claims = payloadOf(tokens.id_token)
  if (claims.iss !== o.issuer) throw new CliError(`The ID token was issued by ${String(claims.iss)}, not ${o.issuer}.`)
  if (o.nonce !== undefined && claims.nonce !== o.nonce) throw new CliError('The ID token does not carry this sign-in’s nonce; sign in again.')
  // Someone whose browser session is a workforce pool's is known by their principal.
  const member = federatedMemberOf(claims)
  if (member) return { email: member, expiry: (claims.exp ?? 0) * 1000, federated: true }
  if (typeof claims.email !== 'string') throw new CliError('The ID token names no email.')
  return { email: claims.email, expiry: (claims.exp ?? 0) * 1000, federated: false }
}

/** The principal:// member a Postern token's `federation` claim names, if it has one. */
export function federatedMemberOf(claims: { federation?: unknown }): string | undefined {
  const fed = claims.federation as { pool?: unknown; subject?: unknown } | undefined
  return typeof fed?.pool === 'string' && typeof fed.subject === 'string' ? `principal://iam.postern/workforcePools/${fed.pool}/subject/${fed.subject}` : undefined
}

/** The claims of a JWT, unverified (see accountOf); jose is not loaded for this, to keep the CLI quick to start. */
export function payloadOf(jwt: string): { iss?: unknown; nonce?: unknown; email?: unknown; exp?: number; federation?: unknown } {
  try {
    const claims = JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as unknown
    if (typeof claims === 'object' && claims !== null) return claims as { exp?: number }
  } catch {
    /* reported below */
  }
  throw new CliError('The server returned an ID token that is not a JWT.')
}
