import { PosternError } from '../core/errors.js'
import type { Directory } from '../directory/directory.js'
import { callerFromClaims, type Caller } from '../identity/caller.js'
import type { Keyring } from '../identity/keyring.js'
import { TokenError, verifyJwt } from '../identity/verify.js'
import { bearerChallenge } from '../http/challenge.js'
import type { Store } from '../store/store.js'

export type { Caller }

/**
 * Bearer authentication for the control API: a Postern access token (RFC 9068, `typ` at+jwt)
 * whose audience is the issuer or the control URL, whose subject still exists and is enabled, and
 * whose sign-in (`sid`, its refresh-token family) has not ended: revoking a refresh token, or any
 * other end of the sign-in, stops its access tokens at once, as at Google. That is one indexed
 * read of the store per call, shared by every process, so no process keeps a revoked token alive.
 * ID tokens are refused, whatever their audience: they are what services receive, and a token a
 * service has seen must not work here (the README says how this differs from DESIGN §5).
 */
export async function authenticateBearer(
  rawHeaders: readonly string[],
  deps: { keyring: Keyring; directory: Directory; store: Pick<Store, 'refreshFamilyLive'>; issuer: string; controlUrl: string; now: number },
): Promise<Caller> {
  // From the raw list: Node keeps only the first of a repeated Authorization, and the gateway
  // refuses a request with two (a proxy and its client may each read a different one): a
  // malformed request, 400 invalid_request (RFC 6750 §3.1), as at the gateway.
  const given: string[] = []
  for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i]!.toLowerCase() === 'authorization') given.push(rawHeaders[i + 1]!)
  if (given.length > 1) {
    const message = 'The request has more than one Authorization header; send the token in one.'
    throw new PosternError('INVALID_ARGUMENT', message, { headers: { 'www-authenticate': bearerChallenge({ error: 'invalid_request', description: message }) } })
  }
  const authorization = given[0]
  if (!authorization) throw unauthenticated('Sign in first: postern auth login (or send Authorization: Bearer $(postern auth print-access-token)).')
  const m = /^Bearer +(\S+)$/i.exec(authorization)
  if (!m) throw unauthenticated('Expected Authorization: Bearer ACCESS_TOKEN.', 'invalid_request')
  let claims
  try {
    claims = verifyJwt(m[1]!, { issuer: deps.issuer, keyFor: (kid) => deps.keyring.publicKey(kid), nowMs: deps.now, kind: 'accessToken' }).claims
  } catch (err) {
    if (err instanceof TokenError) throw unauthenticated(err.code === 'wrong-token-kind' ? err.message : `Invalid access token: ${err.message}`, 'invalid_token')
    throw err
  }
  if (!claims.aud.includes(deps.controlUrl) && !claims.aud.includes(deps.issuer)) {
    throw unauthenticated(`This token's audience is not the Postern API (it is ${JSON.stringify(claims.aud)}).`, 'invalid_token')
  }
  const checked = callerFromClaims(claims, deps.directory, 'The account this token was issued to')
  if (!checked.ok) throw unauthenticated(checked.description, 'invalid_token')
  // Tokens minted before access tokens carried `sid`, and a service-account key's, end at their exp alone.
  const signIn = claims.sid
  if (signIn === undefined) return checked.caller
  if (typeof signIn !== 'string' || !(await deps.store.refreshFamilyLive(signIn))) {
    throw unauthenticated('Invalid access token: The sign-in this token came from has ended; sign in again: postern auth login', 'invalid_token')
  }
  return { ...checked.caller, signIn }
}

export function unauthenticated(message: string, error?: 'invalid_token' | 'invalid_request'): PosternError {
  return new PosternError('UNAUTHENTICATED', message, { headers: { 'www-authenticate': bearerChallenge(error && { error, description: message }) } })
}
