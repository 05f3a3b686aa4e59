import type { IncomingMessage, ServerResponse } from 'node:http'
import { sha256 } from '../../core/ids.js'
import { readForm } from '../../http/body.js'
import { CLI_CLIENT_ID } from '../../api/clients.js'
import { verifyJwt, type VerifiedClaims } from '../../identity/verify.js'
import type { BearerKind } from '../../identity/token-types.js'
import type { ControlDeps } from '../deps.js'
import { sendOAuth } from './token-endpoint.js'
import { basicClientId, challengeBasicClient, refuseBodyCredentials } from './client-authentication.js'
import { OAuthError } from '../../identity/oauth-error.js'

/**
 * Token revocation (RFC 7009): a refresh token, or a live access token of a sign-in (`sid`),
 * revokes that whole sign-in (family), and with it every access token the sign-in issued, as
 * Google's revocation does. The answer is 200 whether or not the token was known (§2.2), so it
 * reveals nothing — except for a live access token of this Postern that ends no sign-in (a
 * service-account key's; one minted by impersonation, which is the service account's and ends
 * with its minter's sign-in), or a live ID token (for services; it ends with its sign-in): a 200
 * would have its holder believe it dead. It gets §2.2.1's unsupported_token_type instead.
 */
export function revokeEndpoint(deps: ControlDeps) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    let form: Map<string, string>
    try {
      form = await readForm(req)
    } catch {
      sendOAuth(res, 400, { error: 'invalid_request', error_description: 'Expected a form with token=…' })
      return
    }
    // The client is authenticated as at the token endpoint (§2.1): postern-cli with no secret.
    try {
      refuseBodyCredentials(form)
      basicClientId(req.headers.authorization, form.get('client_id'))
    } catch (err) {
      if (!(err instanceof OAuthError)) throw err
      challengeBasicClient(req, res, err.httpStatus)
      sendOAuth(res, err.httpStatus, { error: err.code, error_description: err.description })
      return
    }
    const token = form.get('token')
    if (!token) {
      sendOAuth(res, 400, { error: 'invalid_request', error_description: 'token is required.' })
      return
    }
    const record = await deps.store.getRefreshToken(sha256(token))
    const access = record ? undefined : liveToken(token, deps, 'accessToken')
    const signIn = record ?? (access && signInOf(access))
    if (signIn) {
      await deps.store.revokeRefreshFamily(signIn.familyId)
      await deps.store.appendAudit({ time: deps.clock(), principal: `uid:${signIn.subjectUid}`, method: 'oauth.revoke', resource: `refreshTokens/${signIn.familyId}`, outcome: 'OK', details: {} })
    } else if (access) {
      const description = "This access token ends no sign-in: a service-account key's lives until its exp (at most an hour); one minted by impersonation until its exp or the end of its minter's sign-in, whichever comes first (revoke the minter's refresh token to end it)."
      sendOAuth(res, 400, { error: 'unsupported_token_type', error_description: description })
      return
    } else if (!record && liveToken(token, deps, 'idToken')) {
      const description = 'An ID token is not revoked by itself: it ends with the sign-in it came from (revoke its refresh token or an access token of it, or run postern auth revoke), or at its exp.'
      sendOAuth(res, 400, { error: 'unsupported_token_type', error_description: description })
      return
    }
    sendOAuth(res, 200, {})
  }
}

function liveToken(token: string, deps: ControlDeps, kind: BearerKind): VerifiedClaims | undefined {
  try {
    return verifyJwt(token, { issuer: deps.settings.issuer, keyFor: (kid) => deps.keyring.publicKey(kid), nowMs: deps.clock(), kind }).claims
  } catch {
    return undefined
  }
}

/**
 * The sign-in an access token is of: the one its `sid` names, when it was issued to the sign-in's
 * client. One minted by impersonation names its minter's sign-in but is issued to the service
 * account: whoever holds it was handed it, and does not end the minter's sign-in with it.
 */
function signInOf(claims: VerifiedClaims): { familyId: string; subjectUid: string } | undefined {
  if (typeof claims.sid !== 'string' || claims.client_id !== CLI_CLIENT_ID) return undefined
  return { familyId: claims.sid, subjectUid: claims.sub }
}
