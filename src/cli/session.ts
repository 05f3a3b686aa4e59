import { createPrivateKey, randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { CliError } from './errors.js'
import type { CliConfig, ConfigFiles } from '../core/cli-config-files.js'
import { findSignIn, putSignIn, sameServer, signInsOf, type SignIn, type StoredAccount } from '../core/cli-credentials.js'
import { noActiveAccount } from './no-active-account.js'
import { signedInElsewhere } from './signed-in-elsewhere.js'
import { signInCommand } from './sign-in-command.js'
import { request } from './http-client.js'
import { CLI_CLIENT_ID } from '../api/clients.js'

const TOKEN_PATH = '/oauth2/token'
/** Refresh a cached token this long before it expires, so it never expires in flight. */
const EARLY_MS = 5 * 60_000

export interface TokenRequest {
  /** undefined: the default ID token (aud postern-cli). */
  audience?: string
  includeEmail?: boolean
}

/**
 * Tokens for the signed-in accounts: access tokens for the Postern API, ID tokens for services.
 * User accounts hold a rotating refresh token; service accounts hold their key and sign a
 * jwt-bearer assertion (RFC 7523). The credentials file is locked while a token is refreshed, so
 * concurrent CLI processes never present the same refresh token twice (which the server treats
 * as theft and answers by revoking the sign-in).
 */
export class Session {
  constructor(
    readonly files: ConfigFiles,
    /** The server a configuration talks to (its `server`, or the default). */
    private readonly serverOf: (config: CliConfig) => string,
    private readonly now: () => number = Date.now,
  ) {}

  activeAccount(): string {
    const config = this.files.readConfig()
    if (config.account) return config.account
    const server = this.serverOf(config)
    const here = this.files.readCredentials().signIns.filter((s) => sameServer(s.server, server))
    throw new CliError(noActiveAccount(server, here.map((s) => s.account)))
  }

  /**
   * The sign-in a command uses: of the named account (else the active one) at the server the
   * configuration talks to (or `server`). An account signed in only at other Posterns is refused
   * with what to do (signed-in-elsewhere.ts): its tokens and refresh token are those servers', and
   * are never sent to another (which may not be a Postern at all).
   */
  signIn(email?: string, server?: string): SignIn {
    const name = email ?? this.activeAccount()
    const at = server ?? this.serverOf(this.files.readConfig())
    const credentials = this.files.readCredentials()
    const found = findSignIn(credentials, at, name)
    if (found) return found
    const others = signInsOf(credentials, name)
    if (others.length > 0) throw new CliError(signedInElsewhere(this.files, this.serverOf, { account: name, server: at, others }))
    throw new CliError(`No credentials for ${name}. Run: ${signInCommand(name)}${email ? '' : ' (or postern auth list)'}`)
  }

  /** An access token for the Postern API (the CLI's own calls; `print-access-token`). */
  accessToken(email?: string, server?: string): Promise<string> {
    return this.token('access', {}, email, server)
  }

  /**
   * The server refused `accessToken`: the sign-in's cached tokens are dropped (the ID token came
   * with it), so the next call refreshes. Not if another process already replaced them.
   */
  async forgetTokens(accessToken: string, email?: string, server?: string): Promise<void> {
    const stored = this.signIn(email, server)
    await this.files.withLock(async () => {
      const credentials = this.files.readCredentials()
      const current = findSignIn(credentials, stored.server, stored.account)
      if (!current || current.accessToken !== accessToken) return
      putSignIn(credentials, { ...current, accessToken: undefined, accessTokenExpiry: undefined, idToken: undefined, idTokenExpiry: undefined })
      this.files.writeCredentials(credentials)
    })
  }

  /** An ID token for services: aud postern-cli, or `req.audience` (`print-identity-token`, the developer proxy). */
  idToken(req: TokenRequest = {}, email?: string, server?: string): Promise<string> {
    return this.token('id', req, email, server)
  }

  /**
   * The first tokens of a service-account key not stored yet (activate-service-account), to be
   * stored with it: a key that gets none is refused before it is kept, or made the active account.
   */
  async firstTokens(email: string, server: string, keyFile: Record<string, string>): Promise<Pick<StoredAccount, 'accessToken' | 'accessTokenExpiry' | 'idToken' | 'idTokenExpiry'>> {
    const response = await this.exchange(email, { type: 'service_account', server, keyFile }, {})
    const receivedAt = this.now()
    if (!response.access_token) throw new CliError(`The server answered no access token for ${email}; is it an older Postern?`)
    return {
      accessToken: response.access_token,
      accessTokenExpiry: localExpiryOf(response.access_token, receivedAt),
      idToken: response.id_token,
      idTokenExpiry: localExpiryOf(response.id_token, receivedAt),
    }
  }

  /**
   * Both kinds come from one exchange and both are kept (the default ID token, not an
   * audience-bound one), each until shortly before it expires.
   */
  private async token(kind: 'access' | 'id', req: TokenRequest, email?: string, server?: string): Promise<string> {
    const stored = this.signIn(email, server)
    const name = stored.account
    const cached = (a: StoredAccount) => (req.audience ? undefined : kind === 'access' ? fresh(a.accessToken, a.accessTokenExpiry, this.now()) : fresh(a.idToken, a.idTokenExpiry, this.now()))
    const hit = cached(stored)
    if (hit) return hit
    return this.files.withLock(async () => {
      const current = findSignIn(this.files.readCredentials(), stored.server, name)
      if (!current) throw new CliError(`No credentials for ${name}. Run: ${signInCommand(name)}`)
      const again = cached(current)
      if (again) return again
      const response = await this.exchange(name, current, req)
      const receivedAt = this.now()
      if (kind === 'access' && !response.access_token) throw new CliError(`The server answered no access token for ${name}; is it an older Postern? Sign in again: ${signInCommand(name)}`)
      const credentials = this.files.readCredentials()
      const updated: SignIn = { ...current }
      if (response.refresh_token) updated.refreshToken = response.refresh_token
      if (response.refresh_token_expires_in !== undefined && updated.federation) {
        updated.federation = { ...updated.federation, sessionEnd: this.now() + response.refresh_token_expires_in * 1000 }
      }
      if (response.access_token) {
        updated.accessToken = response.access_token
        updated.accessTokenExpiry = localExpiryOf(response.access_token, receivedAt)
      }
      if (!req.audience) {
        updated.idToken = response.id_token
        updated.idTokenExpiry = localExpiryOf(response.id_token, receivedAt)
      }
      putSignIn(credentials, updated)
      this.files.writeCredentials(credentials)
      return kind === 'access' ? response.access_token! : response.id_token
    })
  }

  private async exchange(name: string, account: StoredAccount, req: TokenRequest): Promise<TokenAnswer> {
    if (account.type === 'federated') return this.federatedExchange(name, account, req)
    const form = new URLSearchParams()
    if (account.type === 'service_account') {
      if (!account.keyFile) throw new CliError(`The key of ${name} is missing; run postern auth activate-service-account --key-file FILE again.`)
      form.set('grant_type', 'urn:ietf:params:oauth:grant-type:jwt-bearer')
      form.set('assertion', await serviceAccountAssertion(account.keyFile, req.audience ?? CLI_CLIENT_ID, this.now()))
    } else {
      if (!account.refreshToken) throw new CliError(`${name} has no refresh token; sign in again: ${signInCommand(name)}`)
      form.set('grant_type', 'refresh_token')
      form.set('refresh_token', account.refreshToken)
      form.set('client_id', CLI_CLIENT_ID)
      if (req.audience) form.set('audience', req.audience)
    }
    const url = (account.type === 'service_account' && account.keyFile?.token_uri) || account.server + TOKEN_PATH
    const res = await request(url, { method: 'POST', body: form, headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' } })
    const body = (await res.json().catch(() => ({}))) as Record<string, string>
    if (!res.ok || !body.id_token) {
      const why = body.error_description ?? body.error ?? `HTTP ${res.status}`
      // Signing in again helps only when the sign-in itself was refused (not when the server could not answer).
      throw new CliError(`Could not get a token for ${name}: ${why}${account.type === 'user' && body.error === 'invalid_grant' ? `\nSign in again: ${signInCommand(name)}` : ''}`)
    }
    return body as unknown as TokenAnswer
  }

  /**
   * A federated account renews with its refresh token until the pool's session ends.
   * Then a person must sign in again (the error says how); a machine that signed in with
   * --subject-token-file exchanges the file's current token, which whoever put it there (a CI
   * system) keeps fresh, as Google's file-sourced credentials do.
   */
  private async federatedExchange(name: string, account: StoredAccount, req: TokenRequest): Promise<TokenAnswer> {
    const fed = account.federation ?? {}
    const ended = typeof fed.sessionEnd === 'number' && fed.sessionEnd <= this.now()
    let why: string | undefined
    if (!ended && account.refreshToken) {
      const refreshed = await postToken(account.server + TOKEN_PATH, { grant_type: 'refresh_token', refresh_token: account.refreshToken, client_id: CLI_CLIENT_ID, ...(req.audience && { audience: req.audience }) })
      if (refreshed.ok) return refreshed.body
      if (refreshed.body.error !== 'invalid_grant') throw new CliError(`Could not get a token for ${name}: ${refusal(refreshed)}`)
      why = refreshed.body.error_description
    }
    const file = fed.subjectTokenFile
    if (typeof file !== 'string' || typeof fed.audience !== 'string') throw sessionEnded(name, account, why)
    let subjectToken: string
    try {
      subjectToken = readFileSync(file, 'utf8').trim()
    } catch (err) {
      throw sessionEnded(name, account, `and its token file cannot be read: ${(err as Error).message}`)
    }
    const exchanged = await postToken(account.server + TOKEN_PATH, {
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token: subjectToken,
      subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
      audience: fed.audience,
      client_id: CLI_CLIENT_ID,
    })
    if (!exchanged.ok) throw sessionEnded(name, account, `and the token in ${file} was refused: ${refusal(exchanged)}`)
    if (!req.audience || !exchanged.body.refresh_token) return exchanged.body
    const bound = await postToken(account.server + TOKEN_PATH, { grant_type: 'refresh_token', refresh_token: exchanged.body.refresh_token, client_id: CLI_CLIENT_ID, audience: req.audience })
    if (!bound.ok) throw new CliError(`Could not get a token for ${name}: ${refusal(bound)}`)
    return bound.body
  }
}

type TokenAnswer = { id_token: string; access_token?: string; refresh_token?: string; refresh_token_expires_in?: number }

async function postToken(url: string, form: Record<string, string>): Promise<{ ok: boolean; status: number; body: TokenAnswer & { error?: string; error_description?: string } }> {
  const res = await request(url, { method: 'POST', body: new URLSearchParams(form), headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' } })
  const body = (await res.json().catch(() => ({}))) as TokenAnswer & { error?: string; error_description?: string }
  return { ok: res.ok && typeof body.id_token === 'string', status: res.status, body }
}

/** The token endpoint's reason for a refusal, in its own words where it gave some. */
function refusal(r: { status: number; body: { error?: string; error_description?: string } }): string {
  return r.body.error_description ?? r.body.error ?? `HTTP ${r.status}`
}

/** What to type to sign in again once a federated session has ended. */
export function signInAgainCommand(federation: Record<string, unknown> | undefined): string {
  const config = typeof federation?.loginConfig === 'string' ? federation.loginConfig : 'LOGIN_CONFIG_FILE'
  const file = typeof federation?.subjectTokenFile === 'string' ? ` --subject-token-file ${federation.subjectTokenFile}` : ''
  return `postern auth login --login-config ${config}${file}`
}

function sessionEnded(name: string, account: StoredAccount, why?: string): CliError {
  const end = account.federation?.sessionEnd
  const when = typeof end === 'number' ? ` at ${new Date(end).toISOString()}` : ''
  return new CliError(`The session of ${name} has ended${when}${why ? ` (${why})` : ''}.\nSign in again: ${signInAgainCommand(account.federation)}`)
}

/** The cached token if it outlives the refresh margin. */
function fresh(token: string | undefined, expiry: number | undefined, now: number): string | undefined {
  return token && expiry && expiry - EARLY_MS > now ? token : undefined
}

/** The token's `exp` in ms, read without verifying (the server verifies; this only schedules refreshes). */
export function expiryOf(token: string): number {
  const { exp } = timesOf(token)
  return exp === undefined ? 0 : exp * 1000
}

/**
 * When a token just received expires, by this machine's clock: the time it was received plus
 * its lifetime (`exp - iat`), as RFC 6749 §5.1 counts `expires_in` from the response. Its `exp`
 * is the server's clock: compared with a clock minutes slow, a token the server already refuses
 * would be kept, and printed, for as long again.
 */
export function localExpiryOf(token: string, receivedAt: number): number {
  const { iat, exp } = timesOf(token)
  if (exp === undefined) return 0
  return iat === undefined || exp < iat ? exp * 1000 : receivedAt + (exp - iat) * 1000
}

function timesOf(token: string): { iat?: number; exp?: number } {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { iat?: unknown; exp?: unknown }
    return { ...(typeof payload.iat === 'number' && { iat: payload.iat }), ...(typeof payload.exp === 'number' && { exp: payload.exp }) }
  } catch {
    return {}
  }
}

/** RFC 7523 assertion signed with a service-account key: the same exchange as Google's key files. */
export async function serviceAccountAssertion(keyFile: Record<string, string>, targetAudience: string, now: number): Promise<string> {
  const { SignJWT } = await import('jose')
  const iat = Math.floor(now / 1000)
  return new SignJWT({ target_audience: targetAudience })
    .setProtectedHeader({ alg: 'RS256', kid: keyFile.private_key_id!, typ: 'JWT' })
    .setIssuer(keyFile.client_email!)
    .setSubject(keyFile.client_email!)
    .setAudience(keyFile.token_uri!)
    .setIssuedAt(iat)
    .setExpirationTime(iat + 3600)
    .setJti(randomUUID())
    .sign(createPrivateKey(keyFile.private_key!))
}
