import { CliError } from './errors.js'
import { LOGIN_SCOPE, oauthFailure, postForm, type ServerEndpoints, type TokenSet } from './oidc-client.js'
import { CLI_CLIENT_ID } from '../api/clients.js'

/**
 * Sign-in without a local browser (RFC 8628): show the URL and code, then poll the token
 * endpoint at the interval the server asked for, 5 s longer after every slow_down (§3.5).
 */
export async function deviceLogin(
  endpoints: ServerEndpoints,
  o: {
    say: (text: string) => void
    sleep?: (ms: number) => Promise<void>
    /** The account the user means to sign in as (login_hint, as the browser flow sends it): the device page names it and lets no other account approve. */
    loginHint?: string
  },
): Promise<TokenSet> {
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)))
  const started = await postForm(endpoints.device_authorization_endpoint, { client_id: CLI_CLIENT_ID, scope: LOGIN_SCOPE, ...(o.loginHint && { login_hint: o.loginHint }) })
  const d = started.body as { device_code?: string; user_code?: string; verification_uri?: string; verification_uri_complete?: string; expires_in?: number; interval?: number }
  if (started.status !== 200 || !d.device_code || !d.user_code || !d.verification_uri) throw oauthFailure('Starting the device sign-in', started.body, started.status)
  o.say(
    `To sign in, open this URL in a browser on any device:\n\n    ${d.verification_uri}\n\nand enter the code:\n\n    ${d.user_code}\n\n` +
      (d.verification_uri_complete ? `(or open ${d.verification_uri_complete} directly)\n\n` : '') +
      'Waiting for approval…\n',
  )
  let interval = Math.max(1, d.interval ?? 5)
  const deadline = Date.now() + (d.expires_in ?? 600) * 1000
  for (;;) {
    await sleep(interval * 1000)
    if (Date.now() > deadline) throw new CliError('The code expired before it was approved. Run postern auth login --no-browser again.')
    const { status, body } = await postForm(endpoints.token_endpoint, { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: d.device_code, client_id: CLI_CLIENT_ID })
    if (status === 200 && typeof body.id_token === 'string') return body as unknown as TokenSet
    if (body.error === 'authorization_pending') continue
    if (body.error === 'slow_down') {
      interval += 5
      continue
    }
    if (body.error === 'access_denied') throw new CliError('The sign-in was denied in the browser.')
    if (body.error === 'expired_token') throw new CliError('The code expired before it was approved. Run postern auth login --no-browser again.')
    throw oauthFailure('Device sign-in', body, status)
  }
}
