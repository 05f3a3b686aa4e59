import { createHash } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { randomToken, secretsEqual } from '../../core/ids.js'
import { exchangeSubjectToken, TOKEN_TYPE } from '../../identity/federation/exchange.js'
import { boundedPostForm } from '../../identity/federation/fetch-json.js'
import { PROVIDER_UNREACHABLE, ProviderFetchError, type ProviderKeySource } from '../../identity/federation/provider-keys.js'
import { providerAudience, providerName } from '../../identity/federation/workforce-names.js'
import { federatedMember } from '../../identity/federation/federation-claim.js'
import { OAuthError } from '../../identity/oauth-error.js'
import { safeReturnTo } from '../../identity/return-to.js'
import { SESSION_TTL_MS, endSession, readCookie, readSoleCookie, sessionCookie, sessionCookieName, startSession } from '../../identity/sessions.js'
import type { Router } from '../../http/router.js'
import type { WorkforceProviderRecord } from '../../store/records.js'
import type { Handler } from '../handler.js'
import { CLI_CLIENT_ID } from '../../api/clients.js'
import type { ControlDeps } from '../deps.js'
import { requestClientAddress } from '../../http/client-address.js'
import { errorLine, escapeHtml, page, redirect, sendOnward, sendPage } from '../../http/html-page.js'
import { askingConsent, sentByAnotherPage } from './authorize-consent.js'
import { FEDERATED_PATHS } from './federated-paths.js'

/**
 * Console sign-in through a workforce pool's provider: /signin offers each provider
 * enabled for it; /signin/federated sends the browser to the provider (authorization code with
 * PKCE S256, state and nonce); /signin/federated/callback redeems the code at the provider,
 * exchanges the ID token exactly as the token endpoint's token exchange does, and starts a
 * console session for the federated principal, no longer than the pool's session.
 *
 * What the round trip must remember — state, nonce, PKCE verifier — is derived from one random
 * value in a short-lived cookie, so nothing is stored. That cookie is SameSite=Lax, unlike the
 * session's: the browser comes back from the provider on a cross-site navigation, which a Strict
 * cookie would not accompany; the state it carries is what defeats login CSRF here. So it must be
 * this browser's own: wherever browsers allow it, the cookie is `__Host-` prefixed (Path=/, no
 * Domain), which no sibling host can plant. Without the prefix a page on any host under the
 * control plane's parent domain (a service behind the gateway) could toss in the value of a flow
 * its author started, then send the victim to that flow's callback and sign them in as the
 * author (login CSRF by cookie tossing). A request carrying two flow cookies is refused too.
 */
const FLOW_TTL_S = 600
export const CONSOLE_SCOPE = 'openid email profile'
const FETCH = { timeoutMs: 10_000, maxBytes: 256 * 1024 }

const flowCookieName = (secure: boolean) => `${secure ? '__Host-' : ''}postern_federated`
const flowCookie = (secure: boolean, value: string, maxAgeSeconds: number) =>
  `${flowCookieName(secure)}=${value}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${maxAgeSeconds}${secure ? '; Secure' : ''}`

const derive = (label: string, secret: string) => createHash('sha256').update(`${label}:${secret}`).digest('base64url')

export function providerLabel(p: WorkforceProviderRecord): string {
  return p.displayName || `${p.poolId}/${p.providerId}`
}

/** The "Sign in with …" links under the password form; plain links, so the page's CSP and form protections stay as they are. */
export function federatedLinks(deps: ControlDeps, returnTo: string): string {
  const providers = deps.directory.consoleSignInProviders()
  if (providers.length === 0) return ''
  const links = providers
    .map((p) => `<a class="button secondary" href="${FEDERATED_PATHS.start}?provider=${encodeURIComponent(`${p.poolId}/${p.providerId}`)}&amp;return_to=${encodeURIComponent(returnTo)}">Sign in with ${escapeHtml(providerLabel(p))}</a>`)
    .join('\n')
  return `<p class="note">Or, with your organization’s account:</p>\n${links}`
}

function failure(deps: ControlDeps, res: ServerResponse, status: number, message: string): void {
  sendPage(res, status, page('Sign-in failed', `<h1>Sign-in failed</h1>${errorLine(message)}<p><a href="/signin">Back to sign-in</a></p>`), {
    'set-cookie': flowCookie(deps.settings.secureCookies, '', 0),
  })
}

function offered(deps: ControlDeps, raw: string | null | undefined): WorkforceProviderRecord | undefined {
  const [poolId, providerId] = (raw ?? '').split('/')
  return deps.directory.consoleSignInProviders().find((p) => p.poolId === poolId && p.providerId === providerId)
}

export function startFederatedSignIn(deps: ControlDeps, keys: ProviderKeySource) {
  return async (req: IncomingMessage, res: ServerResponse, query: URLSearchParams): Promise<void> => {
    const provider = offered(deps, query.get('provider'))
    if (!provider) return failure(deps, res, 400, 'That provider is not offered for sign-in here.')
    let endpoints
    try {
      endpoints = await keys.endpoints(provider.issuerUri)
    } catch (err) {
      if (!(err instanceof ProviderFetchError)) throw err
      return failure(deps, res, 502, `${PROVIDER_UNREACHABLE} for ${providerLabel(provider)}. Try again later.`)
    }
    const secret = randomToken(32)
    // Opened by another page (not the sign-in page's own link, which carries the mark already): as
    // the sign-in page does, a code the way back leads to is asked for first (authorize-consent.ts).
    const asked = safeReturnTo(query.get('return_to'))
    const returnTo = sentByAnotherPage(req.headers['sec-fetch-site']) ? askingConsent(asked) : asked
    const url = new URL(endpoints.authorizationEndpoint)
    const params = {
      client_id: provider.clientId,
      response_type: 'code',
      redirect_uri: deps.settings.issuer + FEDERATED_PATHS.callback,
      scope: CONSOLE_SCOPE,
      state: derive('state', secret),
      nonce: derive('nonce', secret),
      code_challenge: createHash('sha256').update(derive('verifier', secret)).digest('base64url'),
      code_challenge_method: 'S256',
    }
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v)
    const cookie = flowCookie(deps.settings.secureCookies, `${secret}.${provider.poolId}.${provider.providerId}.${Buffer.from(returnTo).toString('base64url')}`, FLOW_TTL_S)
    redirect(res, url.href, { 'set-cookie': cookie }, 302)
  }
}

export function finishFederatedSignIn(deps: ControlDeps, keys: ProviderKeySource) {
  return async (req: IncomingMessage, res: ServerResponse, query: URLSearchParams): Promise<void> => {
    const [secret, poolId, providerId, encodedReturn] = (readSoleCookie(req.headers.cookie, flowCookieName(deps.settings.secureCookies)) ?? '').split('.')
    const state = query.get('state')
    // A response without the state of a sign-in this browser started is someone else's (RFC 6749 §10.12).
    if (!secret || !state || !secretsEqual(state, derive('state', secret))) return failure(deps, res, 400, 'This sign-in response does not belong to a sign-in started in this browser (or it took longer than 10 minutes). Start again.')
    const provider = offered(deps, `${poolId}/${providerId}`)
    if (!provider) return failure(deps, res, 400, 'That provider is no longer offered for sign-in here.')
    if (query.has('iss') && query.get('iss') !== provider.issuerUri) return failure(deps, res, 400, 'The sign-in response came from another identity provider.')
    if (query.get('error')) return failure(deps, res, 401, `${providerLabel(provider)} refused the sign-in: ${(query.get('error_description') ?? query.get('error'))!.slice(0, 300)}`)
    const code = query.get('code')
    if (!code) return failure(deps, res, 400, 'The identity provider sent no authorization code.')

    let idToken: string
    try {
      const endpoints = await keys.endpoints(provider.issuerUri)
      const redeemed = await boundedPostForm(endpoints.tokenEndpoint, {
        grant_type: 'authorization_code',
        code,
        redirect_uri: deps.settings.issuer + FEDERATED_PATHS.callback,
        client_id: provider.clientId,
        code_verifier: derive('verifier', secret),
      }, FETCH)
      const body = redeemed.body as Record<string, unknown>
      if (redeemed.status !== 200 || typeof body?.id_token !== 'string') {
        return failure(deps, res, 401, `${providerLabel(provider)} did not redeem the sign-in: ${String(body?.error_description ?? body?.error ?? `HTTP ${redeemed.status}`).slice(0, 300)}`)
      }
      idToken = body.id_token
    } catch (err) {
      if (!(err instanceof ProviderFetchError)) throw err
      deps.log.log('warn', 'identity provider fetch failed', { issuer: provider.issuerUri, detail: err.message })
      return failure(deps, res, 502, `${PROVIDER_UNREACHABLE} for ${providerLabel(provider)}. Try again later.`)
    }
    // Read before verification, but the exchange verifies this very token: a nonce that matches
    // here and a signature that verifies there make the nonce verified (OIDC Core §3.1.3.7).
    if (nonceOf(idToken) !== derive('nonce', secret)) return failure(deps, res, 401, 'The ID token does not carry this sign-in’s nonce; start again.')
    const now = deps.clock()
    let exchanged
    try {
      exchanged = await exchangeSubjectToken(deps.store, keys, {
        subjectToken: idToken,
        subjectTokenType: TOKEN_TYPE.idToken,
        audience: providerAudience(provider.poolId, provider.providerId),
        clientId: CLI_CLIENT_ID,
        scope: CONSOLE_SCOPE,
        now,
        issue: 'session',
      })
    } catch (err) {
      if (err instanceof OAuthError) return failure(deps, res, err.httpStatus === 503 ? 502 : 403, err.description)
      throw err
    }
    const ttl = Math.min(SESSION_TTL_MS, exchanged.subject.maxSessionMs ?? SESSION_TTL_MS)
    await endSession(deps.store, readCookie(req.headers.cookie, sessionCookieName(deps.settings.secureCookies)))
    const { cookie } = await startSession(deps.store, exchanged.subject.uid, now, ttl)
    const fed = exchanged.subject.federation!
    const member = federatedMember(fed.pool, fed.subject)
    await deps.store.appendAudit({ time: now, principal: member, method: 'signin', resource: providerName(fed.pool, fed.provider), outcome: 'OK', details: { address: requestClientAddress(req, deps.settings.trustedProxies) } })
    const returnTo = safeReturnTo(Buffer.from(encodedReturn ?? '', 'base64url').toString('utf8'))
    // Onward from a page of ours rather than by a redirect: the browser arrived here on a
    // cross-site navigation, and a redirect continuing it would not carry the new SameSite=Strict
    // session cookie; a navigation this page starts is same-site and does.
    sendOnward(res, returnTo, `You are signed in as ${member}.`, {
      'set-cookie': [
        sessionCookie(cookie, { secure: deps.settings.secureCookies, maxAgeSeconds: Math.floor(ttl / 1000) }),
        flowCookie(deps.settings.secureCookies, '', 0),
      ],
    })
  }
}

function nonceOf(jwt: string): unknown {
  try {
    return (JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as { nonce?: unknown }).nonce
  } catch {
    return undefined
  }
}

export function federatedSignInRoutes(deps: ControlDeps, keys: ProviderKeySource) {
  const start = startFederatedSignIn(deps, keys)
  const finish = finishFederatedSignIn(deps, keys)
  return (r: Router<Handler>): void => {
    r.add('GET', FEDERATED_PATHS.start, async (c) => (await start(c.req, c.res, c.query), 'sent'))
    r.add('GET', FEDERATED_PATHS.callback, async (c) => (await finish(c.req, c.res, c.query), 'sent'))
  }
}
