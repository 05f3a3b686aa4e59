import type { IncomingMessage, ServerResponse } from 'node:http'
import { CLI_CLIENT_ID } from '../../api/clients.js'
import { OAuthError } from '../../identity/oauth-error.js'

/**
 * HTTP Basic client credentials at the token endpoint (RFC 6749 §2.3.1). Postern's one client is
 * public and authenticates with nothing (discovery: `token_endpoint_auth_methods_supported:
 * ['none']`), so credentials sent this way are never silently ignored: `postern-cli:` without a
 * secret names the client, as some libraries send a public client's id; anything else — another
 * client, a secret, an unreadable header — is invalid_client (§5.2). Returns the client id the
 * header names, or undefined when there is no Basic header.
 */
export function basicClientId(authorization: string | undefined, formClientId: string | undefined): string | undefined {
  const m = authorization === undefined ? null : /^Basic +([A-Za-z0-9+/]+=*) *$/i.exec(authorization)
  if (!m) {
    if (authorization !== undefined && /^Basic\b/i.test(authorization)) throw new OAuthError('invalid_client', 'The Basic credentials are not base64 of CLIENT_ID:SECRET.')
    return undefined
  }
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon < 0) throw new OAuthError('invalid_client', 'The Basic credentials are not base64 of CLIENT_ID:SECRET.')
  const [clientId, secret] = [formDecode(decoded.slice(0, colon)), formDecode(decoded.slice(colon + 1))]
  if (clientId !== CLI_CLIENT_ID) throw new OAuthError('invalid_client', `Unknown client '${clientId.slice(0, 100)}'.`)
  if (secret !== '') throw new OAuthError('invalid_client', `${CLI_CLIENT_ID} is a public client: it has no secret to send.`)
  if (formClientId !== undefined && formClientId !== clientId) throw new OAuthError('invalid_request', 'client_id in the body is not the client the Authorization header names.')
  return clientId
}

/**
 * Client credentials in the body (RFC 6749 §2.3.1's client_secret, RFC 7523 §2.2's
 * client_assertion) are refused as the Basic header's are: a client that believes it authenticated
 * must hear that it did not. An empty client_secret, as some libraries send for a public client,
 * is none.
 */
export function refuseBodyCredentials(form: ReadonlyMap<string, string>): void {
  if (form.get('client_secret')) throw new OAuthError('invalid_client', `${CLI_CLIENT_ID} is a public client: it has no secret to send.`)
  if (form.has('client_assertion') || form.has('client_assertion_type')) {
    throw new OAuthError('invalid_client', `Client assertions are not supported: ${CLI_CLIENT_ID} is a public client (token_endpoint_auth_methods_supported: none).`)
  }
}

/** §2.3.1: the id and secret are form-encoded before they are joined and base64-encoded. */
function formDecode(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '))
  } catch {
    throw new OAuthError('invalid_client', 'The Basic credentials are not form-encoded.')
  }
}

/** RFC 6749 §5.2: a 401 to a client that authenticated with the Authorization header names the scheme it used. */
export function challengeBasicClient(req: IncomingMessage, res: ServerResponse, status: number): void {
  if (status === 401 && /^Basic\b/i.test(req.headers.authorization ?? '')) res.setHeader('www-authenticate', 'Basic realm="postern"')
}
