/**
 * Which token a request carries (DESIGN §4 step 3): `X-Serverless-Authorization` if present,
 * else `Authorization`; scheme Bearer. A request that repeats either header is malformed (RFC
 * 6750 §3.1 `invalid_request`: it "repeats the same parameter"): two hops could each read a
 * different one, and nginx refuses a repeated Authorization itself, so both data planes refuse it
 * with 400 whichever header the token would have come from. Node keeps only the first of a
 * repeated Authorization in `req.headers`, so this reads the raw header list.
 */
export type TokenHeader = 'x-serverless-authorization' | 'authorization'

export type Extracted =
  | { kind: 'token'; token: string; header: TokenHeader }
  | { kind: 'missing' }
  | { kind: 'repeated'; header: TokenHeader }
  | { kind: 'invalid'; description: string; scheme?: 'other' }

const HEADER_NAME: Record<TokenHeader, string> = { 'x-serverless-authorization': 'X-Serverless-Authorization', authorization: 'Authorization' }

/** What a request that repeats a token header is told (the same words on both data planes). */
export function repeatedHeaderMessage(header: TokenHeader): string {
  return `The request has more than one ${HEADER_NAME[header]} header; send the token in one.`
}

export function extractToken(rawHeaders: readonly string[]): Extracted {
  let serverless: string | undefined
  let serverlessCount = 0
  let authorization: string | undefined
  let authorizationCount = 0
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!
    // Cheap length test before the case-insensitive comparison: this runs on every header.
    if (name.length === 26 && name.toLowerCase() === 'x-serverless-authorization') {
      serverless = rawHeaders[i + 1]
      serverlessCount++
    } else if (name.length === 13 && name.toLowerCase() === 'authorization') {
      authorization = rawHeaders[i + 1]
      authorizationCount++
    }
  }
  if (serverlessCount > 1) return { kind: 'repeated', header: 'x-serverless-authorization' }
  if (authorizationCount > 1) return { kind: 'repeated', header: 'authorization' }
  const [value, header]: [string | undefined, TokenHeader] = serverlessCount > 0 ? [serverless, 'x-serverless-authorization'] : [authorization, 'authorization']
  if (value === undefined) return { kind: 'missing' }
  const m = /^(Bearer) +([^ ]+) *$/i.exec(value)
  if (!m) {
    // `Bearer $(postern auth print-identity-token)` whose command failed leaves the token out.
    if (/^bearer *$/i.test(value)) return { kind: 'invalid', description: 'The Bearer token is empty: the command that should have printed it failed. Run it on its own (postern auth print-identity-token) to see why.' }
    // Another scheme (Basic, say) is a request without a token, whose challenge names no error
    // (RFC 6750 §3.1); `Bearer` with something odd after it is a token that is not one.
    if (!/^bearer(?: |$)/i.test(value)) return { kind: 'invalid', description: 'Expected the Bearer scheme with one token.', scheme: 'other' }
    return { kind: 'invalid', description: 'Expected the Bearer scheme with one token.' }
  }
  return { kind: 'token', token: m[2]!, header }
}
