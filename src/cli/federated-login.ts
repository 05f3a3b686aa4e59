import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { CliError } from './errors.js'
import { request } from './http-client.js'
import { loopbackLogin } from './loopback-login.js'
import { federatedMemberOf, payloadOf, postForm, type TokenSet } from './oidc-client.js'
import { CLI_CLIENT_ID } from '../api/clients.js'

/**
 * Federated sign-in for the CLI: the login configuration file written by `postern iam
 * workforce-pools create-login-config`; signing in at the external identity provider in the
 * browser (authorization code + PKCE on a loopback redirect, as for Postern itself); and the
 * RFC 8693 exchange of its ID token at Postern's token endpoint.
 */
export const LOGIN_CONFIG_TYPE = 'postern_workforce_login_config'
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange'
const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token'
const JWT_TYPE = 'urn:ietf:params:oauth:token-type:jwt'

export interface LoginConfigFile {
  type: typeof LOGIN_CONFIG_TYPE
  /** The Postern server (control plane). */
  server: string
  /** //iam.postern/workforcePools/POOL/providers/PROVIDER */
  audience: string
  issuer_uri: string
  client_id: string
  scopes: string[]
  token_url: string
}

export function readLoginConfig(path: string): LoginConfigFile & { path: string } {
  let value: Partial<LoginConfigFile>
  try {
    value = JSON.parse(readFileSync(path, 'utf8')) as Partial<LoginConfigFile>
  } catch (err) {
    throw new CliError(`Cannot read the login configuration ${path}: ${(err as Error).message}`)
  }
  const fields = ['server', 'audience', 'issuer_uri', 'client_id', 'token_url'] as const
  const missing = fields.filter((f) => typeof value[f] !== 'string')
  if (value.type !== LOGIN_CONFIG_TYPE || missing.length || !Array.isArray(value.scopes)) {
    throw new CliError(`${path} is not a Postern login configuration${missing.length ? ` (missing ${missing.join(', ')})` : ''}; create one with: postern iam workforce-pools create-login-config`)
  }
  return { ...(value as LoginConfigFile), path: resolve(path) }
}

/** Signs in at the external identity provider in the browser; resolves with its ID token, or 'no-browser'. */
export async function signInExternally(config: LoginConfigFile, o: { open: (url: string) => Promise<boolean>; say: (text: string) => void }): Promise<string | 'no-browser'> {
  const issuer = config.issuer_uri
  const res = await request(`${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`, { headers: { accept: 'application/json' } })
  const doc = (await res.json().catch(() => undefined)) as { issuer?: string; authorization_endpoint?: string; token_endpoint?: string } | undefined
  if (!res.ok || !doc?.authorization_endpoint || !doc.token_endpoint) throw new CliError(`${issuer} has no usable OpenID discovery document (HTTP ${res.status}).`)
  if (doc.issuer !== issuer) throw new CliError(`${issuer}'s discovery document names another issuer (${String(doc.issuer)}).`)
  const outcome = await loopbackLogin(
    { issuer, authorization_endpoint: doc.authorization_endpoint, token_endpoint: doc.token_endpoint },
    { ...o, client: { clientId: config.client_id, scope: config.scopes.join(' '), name: new URL(issuer).host } },
  )
  if (outcome.kind === 'no-browser') return 'no-browser'
  const claims = payloadOf(outcome.tokens.id_token)
  if (claims.nonce !== outcome.nonce) throw new CliError('The identity provider’s ID token does not carry this sign-in’s nonce; sign in again.')
  return outcome.tokens.id_token
}

export interface FederatedTokens extends TokenSet {
  refresh_token_expires_in?: number
}

/** RFC 8693 exchange at Postern; Postern's refusal (invalid_request, invalid_target, …) is the message. */
export async function exchangeSubjectToken(config: LoginConfigFile, subjectToken: string, type: 'id_token' | 'jwt'): Promise<FederatedTokens> {
  const { status, body } = await postForm(config.token_url, {
    grant_type: TOKEN_EXCHANGE,
    subject_token: subjectToken,
    subject_token_type: type === 'id_token' ? ID_TOKEN_TYPE : JWT_TYPE,
    audience: config.audience,
    client_id: CLI_CLIENT_ID,
  })
  if (status !== 200 || typeof body.id_token !== 'string') {
    const why = typeof body.error_description === 'string' ? body.error_description : `HTTP ${status}`
    throw new CliError(`Postern refused the sign-in${typeof body.error === 'string' ? ` (${body.error})` : ''}: ${why}`)
  }
  return body as unknown as FederatedTokens
}

/** The federated principal a Postern token names (its `federation` claim). */
export function principalOf(idToken: string): { member: string; expiry: number } {
  const claims = payloadOf(idToken)
  const member = federatedMemberOf(claims)
  if (!member) throw new CliError('Postern returned a token that names no federated principal.')
  return { member, expiry: (claims.exp ?? 0) * 1000 }
}
