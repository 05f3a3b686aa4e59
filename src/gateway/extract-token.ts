/**
 * Which token a request carries (DESIGN §4 step 3): `X-Serverless-Authorization` if present,
 * else `Authorization`; scheme Bearer; more than one value of the chosen header is refused.
 * Node keeps only the first of a repeated Authorization in `req.headers`, so this reads the raw
 * header list.
 */
export type TokenHeader = 'x-serverless-authorization' | 'authorization'

export type Extracted =
  | { kind: 'token'; token: string; header: TokenHeader }
  | { kind: 'missing' }
  | { kind: 'invalid'; description: string }

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
  const [value, count, header]: [string | undefined, number, TokenHeader] =
    serverlessCount > 0 ? [serverless, serverlessCount, 'x-serverless-authorization'] : [authorization, authorizationCount, 'authorization']
  if (count === 0) return { kind: 'missing' }
  if (count > 1) return { kind: 'invalid', description: `More than one ${header === 'authorization' ? 'Authorization' : 'X-Serverless-Authorization'} header.` }
  const m = /^(Bearer) +([^ ]+) *$/i.exec(value ?? '')
  if (!m) {
    // `Bearer $(postern auth print-identity-token)` whose command failed leaves the token out.
    if (/^bearer *$/i.test(value ?? '')) return { kind: 'invalid', description: 'The Bearer token is empty: the command that should have printed it failed. Run it on its own (postern auth print-identity-token) to see why.' }
    return { kind: 'invalid', description: 'Expected the Bearer scheme with one token.' }
  }
  return { kind: 'token', token: m[2]!, header }
}
