import { isLoopbackRedirect } from './loopback-redirect.js'
import { pkceProblem } from './pkce.js'
import { CLI_CLIENT_ID } from '../api/clients.js'
import { errorDescription } from '../http/error-description.js'

/**
 * Checking an authorization request (RFC 6749 §4.1.1, OIDC Core §3.1.2.1) — pure. Until the
 * client and its redirect URI are known good, errors are shown to the user and never redirected
 * (§4.1.2.1: no open redirector); after that they go back to the client with its `state`.
 */
export const CLIENTS: ReadonlyMap<string, { redirect: (uri: string) => boolean }> = new Map([[CLI_CLIENT_ID, { redirect: isLoopbackRedirect }]])

export const SUPPORTED_SCOPES: ReadonlySet<string> = new Set(['openid', 'email', 'profile', 'offline_access'])

export interface AuthorizationRequest {
  clientId: string
  redirectUri: string
  codeChallenge: string
  scope: string
  state: string | undefined
  nonce: string | undefined
  promptNone: boolean
  /**
   * prompt=login, or select_account: the user signs in again even with a session (OIDC Core
   * §3.1.2.1), on the sign-in page, where another account may be chosen.
   */
  promptLogin: boolean
  /**
   * prompt=consent: the user is asked before the code goes to the client. Postern's one client,
   * its own CLI, never sends it; the sign-in page adds it to the way back when another page sent
   * the browser there (control/pages/authorize-consent.ts).
   */
  promptConsent: boolean
  /** max_age: a session older than this many seconds signs in again. */
  maxAgeSeconds: number | undefined
}

export type AuthorizationError = 'invalid_request' | 'unsupported_response_type' | 'invalid_scope' | 'login_required' | 'consent_required' | 'access_denied' | 'request_not_supported' | 'request_uri_not_supported'

export type Checked =
  | { kind: 'ok'; request: AuthorizationRequest }
  | { kind: 'show'; message: string }
  | { kind: 'redirect'; redirectUri: string; state: string | undefined; error: AuthorizationError; description: string }

/** RFC 6749 §3.1: repeated parameters are refused, and one sent without a value is as if omitted, so `get` returns null for each. */
export function checkAuthorizationRequest(query: URLSearchParams): Checked {
  const repeated = [...new Set(query.keys())].find((k) => query.getAll(k).length > 1)
  const get = (name: string) => (query.getAll(name).length === 1 ? query.get(name) || null : null)
  const clientId = get('client_id')
  const client = clientId ? CLIENTS.get(clientId) : undefined
  if (!clientId || !client) return { kind: 'show', message: `Unknown client_id '${(clientId ?? '').slice(0, 100)}'. This server knows only ${CLI_CLIENT_ID}.` }
  const redirectUri = get('redirect_uri')
  if (!redirectUri) return { kind: 'show', message: 'redirect_uri is required.' }
  if (!client.redirect(redirectUri)) {
    return { kind: 'show', message: `The redirect_uri '${redirectUri.slice(0, 200)}' is not allowed: ${clientId} may only redirect to http://127.0.0.1:PORT/…, http://[::1]:PORT/… or http://localhost:PORT/… (RFC 8252 §7.3).` }
  }
  const state = get('state') ?? undefined
  const fail = (error: AuthorizationError, description: string): Checked => ({ kind: 'redirect', redirectUri, state, error, description })
  if (repeated) return fail('invalid_request', `Parameter '${repeated.slice(0, 50)}' is repeated.`)
  if (state !== undefined && state.length > 2048) return fail('invalid_request', 'state is too long.')
  // OIDC Core §3.1.2.6's own codes, which a client can act on.
  if (get('request') !== null) return fail('request_not_supported', 'Request objects are not supported: send the parameters themselves.')
  if (get('request_uri') !== null) return fail('request_uri_not_supported', 'request_uri is not supported: send the parameters themselves.')
  const responseType = get('response_type')
  if (responseType === null) return fail('invalid_request', "response_type is required (it is 'code').")
  if (responseType !== 'code') return fail('unsupported_response_type', `response_type must be 'code', not '${responseType.slice(0, 50)}'.`)
  // Only query is advertised; a form_post or fragment client would wait for an answer sent another way.
  const responseMode = get('response_mode')
  if (responseMode !== null && responseMode !== 'query') return fail('invalid_request', `response_mode '${responseMode.slice(0, 50)}' is not supported: answers come in the redirect's query.`)
  const pkce = pkceProblem(get('code_challenge'), get('code_challenge_method'))
  if (pkce) {
    const why = { missing: 'code_challenge is required', method: "code_challenge_method must be S256 ('plain' is not accepted)", malformed: 'code_challenge must be 43 base64url characters' }[pkce]
    return fail('invalid_request', `PKCE with S256 is required: ${why}.`)
  }
  const nonce = get('nonce') ?? undefined
  if (nonce !== undefined && nonce.length > 512) return fail('invalid_request', 'nonce is too long.')
  const scopes = (get('scope') ?? 'openid').split(' ').filter(Boolean)
  const unknown = scopes.find((s) => !SUPPORTED_SCOPES.has(s))
  if (unknown) return fail('invalid_scope', `Scope '${unknown.slice(0, 50)}' is not supported.`)
  const prompt = (get('prompt') ?? '').split(' ').filter(Boolean)
  if (prompt.includes('none') && prompt.length > 1) return fail('invalid_request', "prompt=none may not be combined with another prompt value.")
  const maxAge = get('max_age')
  if (maxAge !== null && !/^\d{1,9}$/.test(maxAge)) return fail('invalid_request', 'max_age must be a number of seconds.')
  return {
    kind: 'ok',
    request: {
      clientId,
      redirectUri,
      codeChallenge: get('code_challenge')!,
      scope: [...new Set(scopes)].join(' '),
      state,
      nonce,
      promptNone: prompt.includes('none'),
      promptLogin: prompt.includes('login') || prompt.includes('select_account'),
      promptConsent: prompt.includes('consent'),
      maxAgeSeconds: maxAge === null ? undefined : Number(maxAge),
    },
  }
}

/** The client's redirect URI with the response parameters added (its own query is kept, §3.1.2). */
export function redirectWith(redirectUri: string, params: Record<string, string | undefined>): string {
  const url = new URL(redirectUri)
  for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.set(k, k === 'error_description' ? errorDescription(v) : v)
  return url.href
}
