import type { IncomingMessage, ServerResponse } from 'node:http'
import { PosternError } from '../../core/errors.js'
import { readForm } from '../../http/body.js'
import { errorDescription } from '../../http/error-description.js'
import { SECURITY_HEADERS } from '../../http/respond.js'
import { isAudience } from '../../identity/audience.js'
import { GRANT } from '../../identity/endpoints.js'
import { OAuthError } from '../../identity/oauth-error.js'
import type { ControlDeps } from '../deps.js'
import { basicClientId, challengeBasicClient, refuseBodyCredentials } from './client-authentication.js'

/** One grant: the form parameters in, the token response out; failures throw OAuthError. */
export type Grant = (form: Map<string, string>, deps: ControlDeps, req: IncomingMessage) => Promise<Record<string, unknown>>

/**
 * POST /oauth2/token. Dispatches on grant_type to the grants registered by the composition root;
 * every failure is an RFC 6749 §5.2 error body, never a 5xx for bad input.
 */
export function tokenEndpoint(grants: Partial<Record<(typeof GRANT)[keyof typeof GRANT], Grant>>, deps: ControlDeps) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    try {
      if (req.method !== 'POST') throw new OAuthError('invalid_request', 'Use POST.')
      let form: Map<string, string>
      try {
        form = await readForm(req)
      } catch (err) {
        throw new OAuthError('invalid_request', err instanceof PosternError ? err.message : 'Unreadable request body.')
      }
      refuseBodyCredentials(form)
      const basic = basicClientId(req.headers.authorization, form.get('client_id'))
      if (basic !== undefined) form.set('client_id', basic)
      const type = form.get('grant_type')
      if (!type) throw new OAuthError('invalid_request', 'grant_type is required.')
      // An own property only: grant_type=__proto__ or valueOf is an unsupported grant, not Object.prototype's.
      const grant = Object.hasOwn(grants, type) ? grants[type as keyof typeof grants] : undefined
      if (!grant) throw new OAuthError('unsupported_grant_type', `grant_type '${type.slice(0, 100)}' is not supported.`)
      sendOAuth(res, 200, await grant(form, deps, req))
    } catch (err) {
      if (err instanceof OAuthError) {
        challengeBasicClient(req, res, err.httpStatus)
        sendOAuth(res, err.httpStatus, { error: err.code, error_description: err.description })
        return
      }
      // The store cannot be used (unreachable, its file gone, the disk full): said as it is, a 503
      // the client may retry, not an internal error.
      if (err instanceof PosternError && err.status === 'UNAVAILABLE') {
        for (const [name, value] of Object.entries(err.headers ?? {})) res.setHeader(name, value)
        sendOAuth(res, 503, { error: 'temporarily_unavailable', error_description: err.message })
        return
      }
      deps.log.log('error', 'token endpoint failed', { err: String(err) })
      sendOAuth(res, 500, { error: 'server_error', error_description: 'Internal error.' })
    }
  }
}

export function sendOAuth(res: ServerResponse, status: number, body: Record<string, unknown>): void {
  const text = JSON.stringify(typeof body.error_description === 'string' ? { ...body, error_description: errorDescription(body.error_description) } : body)
  res.writeHead(status, { ...SECURITY_HEADERS, pragma: 'no-cache', 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

export function required(form: Map<string, string>, name: string): string {
  const value = form.get(name)
  if (!value) throw new OAuthError('invalid_request', `${name} is required.`)
  return value
}

/** The `audience` an ID token is requested for: absent means the CLI (DESIGN §3). */
export function requestedAudience(form: Map<string, string>, name = 'audience'): string | undefined {
  const value = form.get(name)
  if (value === undefined || value === '') return undefined
  if (!isAudience(value)) throw new OAuthError('invalid_target', `${name} is not a valid audience: one URL or name, at most 2048 characters, without spaces or control characters.`)
  return value
}
