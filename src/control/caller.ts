import { PosternError } from '../core/errors.js'
import type { Directory } from '../directory/directory.js'
import type { Principal } from '../iam/principal.js'
import { federatedCallerOf } from '../identity/federation/federation-claim.js'
import type { Keyring } from '../identity/keyring.js'
import { TokenError, verifyJwt } from '../identity/verify.js'

/** The authenticated principal behind a request, and the member string the audit log names it by. */
export interface Caller {
  principal: Principal
  member: string
}

/**
 * Bearer authentication for the control API: a Postern access token (RFC 9068, `typ` at+jwt)
 * whose audience is the issuer or the control URL, whose subject still exists and is enabled.
 * ID tokens are refused, whatever their audience: they are what services receive, and a token a
 * service has seen must not work here (the README says how this differs from DESIGN §5).
 */
export function authenticateBearer(
  authorization: string | undefined,
  deps: { keyring: Keyring; directory: Directory; issuer: string; controlUrl: string; now: number },
): Caller {
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
  const federated = federatedCallerOf(claims)
  if (federated) {
    const problem = deps.directory.federationProblem(federated.claim)
    if (problem) throw unauthenticated(problem, 'invalid_token')
    return { principal: federated.principal, member: federated.member }
  }
  const known = deps.directory.principal(claims.sub)
  if (!known || known.disabled) throw unauthenticated('The account this token was issued to is disabled or no longer exists.', 'invalid_token')
  const principal: Principal = { kind: known.kind, email: known.email, uid: known.uid }
  return { principal, member: `${known.kind}:${known.email}` }
}

export function unauthenticated(message: string, error?: 'invalid_token' | 'invalid_request'): PosternError {
  const challenge = error ? `Bearer realm="postern", error="${error}", error_description="${message.replace(/["\\]/g, "'")}"` : 'Bearer realm="postern"'
  return new PosternError('UNAUTHENTICATED', message, { headers: { 'www-authenticate': challenge } })
}
