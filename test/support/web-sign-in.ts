import { createHash, randomBytes } from 'node:crypto'

/** The Accept header of a browser's navigation (Chromium's and Firefox's, less the image types). */
export const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'

/**
 * A browser without a browser, for e2e tests of the OpenID Provider: a cookie jar, the /signin
 * form (with its hidden token), and the authorization code flow with PKCE, all over real HTTP.
 */
export class WebAgent {
  private readonly cookies = new Map<string, string>()

  constructor(readonly base: string) {}

  cookie(name: string): string | undefined {
    return this.cookies.get(name)
  }

  async fetch(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers)
    if (this.cookies.size) headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '))
    const res = await fetch(path.startsWith('http') ? path : this.base + path, { ...init, headers, redirect: 'manual' })
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';')
      const eq = pair!.indexOf('=')
      const name = pair!.slice(0, eq).trim()
      const value = pair!.slice(eq + 1).trim()
      if (attrs.some((a) => /^\s*max-age=0\s*$/i.test(a)) || value === '') this.cookies.delete(name)
      else this.cookies.set(name, value)
    }
    return res
  }

  /** Fills and posts the sign-in form; returns the response (303 on success). */
  async signIn(email: string, password: string, returnTo = '/console'): Promise<Response> {
    const page = await (await this.fetch(`/signin?return_to=${encodeURIComponent(returnTo)}`)).text()
    const token = /name="form_token" value="([^"]+)"/.exec(page)?.[1]
    if (!token) throw new Error(`no form token in /signin:\n${page}`)
    return this.fetch('/signin', {
      method: 'POST',
      // What a browser sends with a form it submits: a refusal comes back as the form again.
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: this.base, accept: BROWSER_ACCEPT },
      body: new URLSearchParams({ email, password, form_token: token, return_to: returnTo }),
    })
  }

  /** GET /oauth2/authorize with the given parameters; returns the Location it redirects to (or throws). */
  async authorize(params: Record<string, string | undefined>): Promise<{ status: number; location: string | null; body: string }> {
    const q = new URLSearchParams()
    for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, v)
    const res = await this.fetch(`/oauth2/authorize?${q}`)
    return { status: res.status, location: res.headers.get('location'), body: await res.text() }
  }
}

export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url')
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') }
}

export const REDIRECT_URI = 'http://127.0.0.1:45678/callback'

export function authorizeParams(challenge: string, over: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {
    client_id: 'postern-cli',
    response_type: 'code',
    redirect_uri: REDIRECT_URI,
    scope: 'openid email offline_access',
    state: 'state-123',
    nonce: 'nonce-456',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...over,
  }
}

export async function token(base: string, form: Record<string, string>): Promise<{ status: number; body: Record<string, string> }> {
  const res = await fetch(`${base}/oauth2/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form) })
  return { status: res.status, body: (await res.json()) as Record<string, string> }
}

/** Signs in (if needed) and runs the whole code flow; returns the token response and the verifier used. */
export async function codeFlow(agent: WebAgent, o: { email: string; password: string; over?: Record<string, string> }): Promise<{ code: string; verifier: string; tokens: Record<string, string> }> {
  const { verifier, challenge } = pkcePair()
  let step = await agent.authorize(authorizeParams(challenge, o.over))
  if (step.location?.startsWith('/signin')) {
    const returnTo = new URL(step.location, agent.base).searchParams.get('return_to')!
    const signedIn = await agent.signIn(o.email, o.password, returnTo)
    if (signedIn.status !== 303) throw new Error(`sign-in failed: ${signedIn.status} ${await signedIn.text()}`)
    const res = await agent.fetch(signedIn.headers.get('location')!)
    step = { status: res.status, location: res.headers.get('location'), body: await res.text() }
  }
  const code = new URL(step.location!).searchParams.get('code')
  if (!code) throw new Error(`no code: ${step.status} ${step.location} ${step.body}`)
  const t = await token(agent.base, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier, client_id: 'postern-cli' })
  if (t.status !== 200) throw new Error(`token exchange failed: ${JSON.stringify(t.body)}`)
  return { code, verifier, tokens: t.body }
}

export function claimsOf(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>
}

/** Creates a user with a known password through the API (as the owner). */
export async function createUser(api: (m: string, p: string, b?: unknown) => Promise<{ status: number; body: unknown }>, email: string, password = 'correct horse battery staple'): Promise<string> {
  const r = await api('POST', '/v1/users', { email, password })
  if (r.status !== 200) throw new Error(`create user ${email}: ${r.status} ${JSON.stringify(r.body)}`)
  return password
}
