/**
 * The JWS `typ` of each kind of token Postern signs. The kinds are never interchangeable: a token
 * that reaches an upstream (an ID token, or the upstream's X-Postern-Jwt-Assertion) must not work
 * on the control API, and an API token must not open a service — the separation Google makes
 * between access tokens for APIs and ID tokens for services.
 */
export const TOKEN_TYP = {
  /** ID tokens (OIDC Core §2) for services, checked by the gateway; `typ` absent is accepted too (DESIGN §4). */
  idToken: 'JWT',
  /** Access tokens for the control API, RFC 9068 §2.1. */
  accessToken: 'at+jwt',
  /** X-Postern-Jwt-Assertion, for an upstream to read; never a bearer token. */
  upstreamAssertion: 'postern-assertion+jwt',
} as const

/**
 * The `iss` of X-Postern-Jwt-Assertion: the gateway, under the issuer, not the issuer itself. Any
 * user may hold an ID token whose `aud` is a service's URL — that is how services are called —
 * so an upstream verifying the assertion as ID tokens are verified (signature, `iss`, `aud`)
 * would take a caller's own ID token, sent to it directly, for the gateway's word that the caller
 * was let in. Google's IAP gives its assertion an issuer of its own for the same reason.
 */
export function assertionIssuer(issuer: string): string {
  return `${issuer.replace(/\/$/, '')}/gateway`
}

export type BearerKind = 'idToken' | 'accessToken'

/** RFC 9068 §4: a resource server accepts `at+jwt` or its full media type. */
const ACCESS_TOKEN_TYPS = new Set<unknown>([TOKEN_TYP.accessToken, `application/${TOKEN_TYP.accessToken}`])
const ID_TOKEN_TYPS = new Set<unknown>([undefined, TOKEN_TYP.idToken])

export interface TypRefusal {
  /** 'wrong-kind': one of Postern's own kinds, in the wrong place; 'unknown': anything else. */
  reason: 'wrong-kind' | 'unknown'
  message: string
}

/**
 * Why a token of this header `typ` is refused where `expected` is wanted, or undefined when it
 * is the expected kind. The words say which token to fetch instead — pure.
 */
export function typRefusal(typ: unknown, expected: BearerKind): TypRefusal | undefined {
  const wrongKind = (message: string): TypRefusal => ({ reason: 'wrong-kind', message })
  if (expected === 'idToken') {
    if (ID_TOKEN_TYPS.has(typ)) return undefined
    if (ACCESS_TOKEN_TYPS.has(typ)) return wrongKind('This is an access token for the Postern API; services take an ID token: postern auth print-identity-token.')
  } else {
    if (ACCESS_TOKEN_TYPS.has(typ)) return undefined
    if (ID_TOKEN_TYPS.has(typ)) return wrongKind('This is an ID token for services; the API takes an access token: postern auth print-access-token.')
  }
  if (typ === TOKEN_TYP.upstreamAssertion) return wrongKind('This is an X-Postern-Jwt-Assertion, for an upstream to read; it is not a bearer token.')
  return { reason: 'unknown', message: `Token type ${JSON.stringify(typ)} is not accepted.` }
}
