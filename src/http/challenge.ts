/**
 * The one `WWW-Authenticate` builder (RFC 6750 §3): `Bearer realm="postern"`, with an error code
 * and a description when a token was sent and refused. A description is a quoted-string whose
 * text comes partly from the token, so quotes, backslashes and line breaks become `'` (RFC 6750
 * §3 allows only %x20-21 / %x23-5B / %x5D-7E in error_description): nothing a caller sends can
 * end the string or the header.
 */
export function bearerChallenge(refusal?: { error: 'invalid_token' | 'invalid_request' | 'insufficient_scope'; description: string }): string {
  if (!refusal) return 'Bearer realm="postern"'
  const description = refusal.description.replace(/[^\x20\x21\x23-\x5b\x5d-\x7e]/g, "'")
  return `Bearer realm="postern", error="${refusal.error}", error_description="${description}"`
}
