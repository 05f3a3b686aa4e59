import { createHash, randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { PosternProcess } from './server.js'

/**
 * Signs a user in over HTTP exactly as `postern auth login` does through a browser — /signin
 * form, authorization code with PKCE S256 on a loopback redirect, token endpoint — and writes a
 * CLI config dir holding the result, so that user's `postern` commands work. `idToken` (aud
 * postern-cli) is for services through the gateway, `accessToken` for the control API.
 */
export async function signInUser(p: PosternProcess, email: string, password: string): Promise<{ configDir: string; idToken: string; accessToken: string }> {
  const base = p.controlUrl
  const form = await fetch(`${base}/signin`)
  const formCookie = /postern_signin=([^;]+)/.exec(form.headers.get('set-cookie') ?? '')![1]!
  const formToken = /name="form_token" value="([^"]+)"/.exec(await form.text())![1]!
  const signin = await fetch(`${base}/signin`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `postern_signin=${formCookie}`, accept: 'text/html' },
    body: new URLSearchParams({ email, password, return_to: '/', form_token: formToken }),
  })
  // `__Host-postern_session` when the server is reached in a secure context (loopback here), else `postern_session`.
  const [, sessionName, session] = /((?:__Host-)?postern_session)=([^;]+)/.exec(signin.headers.get('set-cookie') ?? '') ?? []
  if (!session) throw new Error(`sign-in failed for ${email}: ${signin.status} ${await signin.text()}`)

  const verifier = randomBytes(32).toString('base64url')
  const challenge = createHash('sha256').update(verifier).digest('base64url')
  const redirectUri = 'http://127.0.0.1:9/callback'
  const authorize = await fetch(
    `${base}/oauth2/authorize?${new URLSearchParams({ client_id: 'postern-cli', response_type: 'code', redirect_uri: redirectUri, scope: 'openid email offline_access', code_challenge: challenge, code_challenge_method: 'S256', state: 's' })}`,
    { redirect: 'manual', headers: { cookie: `${sessionName}=${session}` } },
  )
  const code = new URL(authorize.headers.get('location')!).searchParams.get('code')
  if (!code) throw new Error(`no code: ${authorize.headers.get('location')}`)
  const token = await fetch(`${base}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier, client_id: 'postern-cli' }),
  })
  const body = (await token.json()) as { id_token: string; access_token: string; refresh_token: string }
  if (!body.refresh_token) throw new Error(`token exchange failed: ${JSON.stringify(body)}`)

  const configDir = mkdtempSync(join(tmpdir(), 'postern-user-'))
  mkdirSync(configDir, { recursive: true, mode: 0o700 })
  writeFileSync(join(configDir, 'config.json'), JSON.stringify({ server: base, project: 'my-project', account: email }), { mode: 0o600 })
  writeFileSync(join(configDir, 'credentials.json'), JSON.stringify({ accounts: { [email]: { type: 'user', server: base, refreshToken: body.refresh_token } } }), { mode: 0o600 })
  return { configDir, idToken: body.id_token, accessToken: body.access_token }
}

/** Creates a user with a password through the owner's CLI session. */
export async function createUser(p: PosternProcess, email: string, password = 'correct horse battery staple'): Promise<string> {
  const r = await p.cli(['users', 'create', email, '--password-stdin'], { stdin: password })
  if (r.code !== 0) throw new Error(`users create failed: ${r.stderr}`)
  return password
}

/**
 * A new service on `upstream` that a new user may invoke, and that user's ID token for it
 * (audience: the service's URL), as a developer gets one: `postern auth print-identity-token`.
 */
export async function invokerOf(p: PosternProcess, service: string, upstream: string, email = 'ann@example.com', password = 'ann-password-123'): Promise<{ url: string; host: string; token: string }> {
  const created = await p.cli(['services', 'create', service, `--upstream=${upstream}`, '--format=json'])
  if (created.code !== 0) throw new Error(`services create ${service}: ${created.stderr}`)
  const url = JSON.parse(created.stdout).uri as string
  await createUser(p, email, password)
  const bound = await p.cli(['services', 'add-iam-policy-binding', service, `--member=user:${email}`, '--role=roles/run.invoker'])
  if (bound.code !== 0) throw new Error(`add-iam-policy-binding ${service}: ${bound.stderr}`)
  const dev = await signInUser(p, email, password)
  const token = (await p.cli(['auth', 'print-identity-token', '--audiences', url], { configDir: dev.configDir })).stdout.trim()
  return { url, host: new URL(url).host, token }
}
