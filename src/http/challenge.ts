import { errorDescription } from './error-description.js'

/**
 * The one `WWW-Authenticate` builder (RFC 6750 §3): `Bearer realm="postern"`, with an error code
 * and a description when a token was sent and refused. A description is a quoted-string whose
 * text comes partly from the token: nothing a caller sends can end the string or the header
 * (error-description.ts).
 */
export function bearerChallenge(refusal?: { error: 'invalid_token' | 'invalid_request' | 'insufficient_scope'; description: string }): string {
  if (!refusal) return 'Bearer realm="postern"'
  return `Bearer realm="postern", error="${refusal.error}", error_description="${errorDescription(refusal.description)}"`
}
