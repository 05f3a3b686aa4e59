import type { IncomingMessage, ServerResponse } from 'node:http'
import { sha256 } from '../../core/ids.js'
import { readForm } from '../../http/body.js'
import { verifyJwt } from '../../identity/verify.js'
import type { ControlDeps } from '../deps.js'
import { sendOAuth } from './token-endpoint.js'
import { basicClientId, challengeBasicClient, refuseBodyCredentials } from './client-authentication.js'
import { OAuthError } from '../../identity/oauth-error.js'

/**
 * Token revocation (RFC 7009): a refresh token revokes its whole sign-in (family). The answer is
 * 200 whether or not the token was known (§2.2), so it reveals nothing — except for a live access
 * token of this Postern: those are checked by signature alone and live at most an hour, so one
 * cannot be revoked, and a 200 would have its holder believe it dead. It gets §2.2.1's
 * unsupported_token_type instead.
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
    if (record) {
      await deps.store.revokeRefreshFamily(record.familyId)
      await deps.store.appendAudit({ time: deps.clock(), principal: `uid:${record.subjectUid}`, method: 'oauth.revoke', resource: `refreshTokens/${record.familyId}`, outcome: 'OK', details: {} })
    }
    if (!record && isLiveAccessToken(token, deps)) {
      sendOAuth(res, 400, { error: 'unsupported_token_type', error_description: 'Access tokens cannot be revoked: each lives until its exp (at most an hour). Revoke the refresh token to end the sign-in.' })
      return
    }
    sendOAuth(res, 200, {})
  }
}

function isLiveAccessToken(token: string, deps: ControlDeps): boolean {
  try {
    verifyJwt(token, { issuer: deps.settings.issuer, keyFor: (kid) => deps.keyring.publicKey(kid), nowMs: deps.clock(), kind: 'accessToken' })
    return true
  } catch {
    return false
  }
}
