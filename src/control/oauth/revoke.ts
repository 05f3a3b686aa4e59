import type { IncomingMessage, ServerResponse } from 'node:http'
import { sha256 } from '../../core/ids.js'
import { readForm } from '../../http/body.js'
import type { ControlDeps } from '../deps.js'
import { sendOAuth } from './token-endpoint.js'

/**
 * Token revocation (RFC 7009): a refresh token revokes its whole sign-in (family). The answer is
 * 200 whether or not the token was known (§2.2), so it reveals nothing.
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
    sendOAuth(res, 200, {})
  }
}
