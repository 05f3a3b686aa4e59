import { createHash, randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { CliError } from './errors.js'
import { LOGIN_SCOPE, oauthFailure, postForm, type ServerEndpoints, type TokenSet } from './oidc-client.js'
import { CLI_CLIENT_ID } from '../api/clients.js'

/**
 * Browser sign-in for a native app (RFC 8252): a one-shot listener on 127.0.0.1 at a port the
 * system picks (§7.3), the authorization code flow with PKCE S256 (§8.1) and a random state
 * checked on return, then the code exchanged at the token endpoint.
 */
const random = () => randomBytes(32).toString('base64url')
const WAIT_MS = 5 * 60_000

export type LoopbackOutcome = { kind: 'signed-in'; tokens: TokenSet; nonce: string } | { kind: 'no-browser' }

export interface LoopbackOptions {
  open: (url: string) => Promise<boolean>
  say: (text: string) => void
  /** Another OpenID Provider's client (an external identity provider); default: Postern's CLI. */
  client?: { clientId: string; scope: string; name: string }
  /** The account the user means to sign in as (OIDC Core §3.1.2.1 login_hint): the sign-in page offers it. */
  loginHint?: string
}

export async function loopbackLogin(endpoints: Pick<ServerEndpoints, 'issuer' | 'authorization_endpoint' | 'token_endpoint'>, o: LoopbackOptions): Promise<LoopbackOutcome> {
  const clientId = o.client?.clientId ?? CLI_CLIENT_ID
  const scope = o.client?.scope ?? LOGIN_SCOPE
  const verifier = random()
  const state = random()
  const nonce = random()
  let settle: (r: { code: string } | { error: string }) => void = () => {}
  const returned = new Promise<{ code: string } | { error: string }>((resolve) => (settle = resolve))

  const server = createServer((req, res) => answer(req, res))
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const redirectUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`

  function answer(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', redirectUri)
    const p = url.searchParams
    if (url.pathname !== '/' || req.method !== 'GET' || (!p.has('code') && !p.has('error'))) {
      reply(res, 404, 'Not found.')
      return
    }
    // A response without our state did not come from the sign-in we started (CSRF, RFC 6749 §10.12).
    if (p.get('state') !== state) {
      reply(res, 400, 'This sign-in response does not belong to the sign-in in progress; it was ignored.')
      return
    }
    if (p.has('iss') && p.get('iss') !== endpoints.issuer) {
      reply(res, 400, 'This sign-in response came from another server; it was ignored.')
      return
    }
    if (p.get('error')) {
      reply(res, 400, `Sign-in failed: ${p.get('error_description') ?? p.get('error')}. You can close this tab.`)
      settle({ error: `${p.get('error')}: ${p.get('error_description') ?? ''}` })
      return
    }
    reply(res, 200, o.client ? `You are signed in at ${o.client.name}. You can close this tab and return to your terminal.` : 'You are signed in to Postern. You can close this tab and return to your terminal.')
    settle({ code: p.get('code')! })
  }

  try {
    const url = new URL(endpoints.authorization_endpoint)
    const challenge = createHash('sha256').update(verifier).digest('base64url')
    for (const [k, v] of Object.entries({ client_id: clientId, response_type: 'code', redirect_uri: redirectUri, scope, state, nonce, code_challenge: challenge, code_challenge_method: 'S256' })) {
      url.searchParams.set(k, v)
    }
    if (o.loginHint) url.searchParams.set('login_hint', o.loginHint)
    if (!(await o.open(url.href))) return { kind: 'no-browser' }
    o.say(`Your browser has been opened to visit:\n\n    ${url.href}\n`)
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new CliError('Timed out waiting for the browser to finish signing in. Run postern auth login again, or postern auth login --no-browser.')), WAIT_MS)
    })
    const result = await Promise.race([returned, timeout]).finally(() => clearTimeout(timer))
    if ('error' in result) throw new CliError(`Sign-in failed: ${result.error}`)
    const { status, body } = await postForm(endpoints.token_endpoint, { grant_type: 'authorization_code', code: result.code, redirect_uri: redirectUri, code_verifier: verifier, client_id: clientId })
    if (status !== 200 || typeof body.id_token !== 'string') throw oauthFailure('Exchanging the authorization code', body, status)
    return { kind: 'signed-in', tokens: body as unknown as TokenSet, nonce }
  } finally {
    server.closeAllConnections()
    server.close()
  }
}

function reply(res: ServerResponse, status: number, text: string): void {
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Postern</title></head><body><p>${text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)}</p></body></html>`
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': "default-src 'none'", 'cache-control': 'no-store', connection: 'close' })
  res.end(html)
}
