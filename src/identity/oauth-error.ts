/** OAuth 2.0 error responses (RFC 6749 §5.2, RFC 8628 §3.5, RFC 8693 §2.2.2). */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'invalid_target'
  | 'authorization_pending'
  | 'slow_down'
  | 'access_denied'
  | 'expired_token'
  | 'unsupported_token_type'
  | 'temporarily_unavailable'

export class OAuthError extends Error {
  override readonly name = 'OAuthError'
  constructor(
    readonly code: OAuthErrorCode,
    readonly description: string,
  ) {
    super(description)
  }

  get httpStatus(): number {
    return this.code === 'invalid_client' ? 401 : this.code === 'temporarily_unavailable' ? 503 : 400
  }
}
