import { SUPPORTED_SCOPES } from './authorization-request.js'
/** Where the OpenID Provider's endpoints live under the issuer (DESIGN §3). */
export const PATHS = {
  discovery: '/.well-known/openid-configuration',
  /** RFC 8414 §3: the same metadata where OAuth clients (oauth4webapi's default) look. */
  authorizationServerMetadata: '/.well-known/oauth-authorization-server',
  jwks: '/oauth2/jwks',
  /** The signing keys as `{kid: PEM certificate}`, the shape of Google's www.googleapis.com/oauth2/v1/certs. */
  certs: '/oauth2/v1/certs',
  userinfo: '/oauth2/userinfo',
  token: '/oauth2/token',
  authorize: '/oauth2/authorize',
  deviceAuthorization: '/oauth2/device/code',
  revoke: '/oauth2/revoke',
  signin: '/signin',
  signout: '/signout',
  device: '/device',
} as const

export const tokenEndpoint = (issuer: string) => issuer + PATHS.token

export const GRANT = {
  authorizationCode: 'authorization_code',
  refreshToken: 'refresh_token',
  deviceCode: 'urn:ietf:params:oauth:grant-type:device_code',
  jwtBearer: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
  tokenExchange: 'urn:ietf:params:oauth:grant-type:token-exchange',
} as const

export function discoveryDocument(issuer: string) {
  return {
    issuer,
    authorization_endpoint: issuer + PATHS.authorize,
    token_endpoint: issuer + PATHS.token,
    device_authorization_endpoint: issuer + PATHS.deviceAuthorization,
    revocation_endpoint: issuer + PATHS.revoke,
    userinfo_endpoint: issuer + PATHS.userinfo,
    jwks_uri: issuer + PATHS.jwks,
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: Object.values(GRANT),
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256'],
    token_endpoint_auth_methods_supported: ['none'],
    revocation_endpoint_auth_methods_supported: ['none'],
    code_challenge_methods_supported: ['S256'],
    scopes_supported: [...SUPPORTED_SCOPES],
    claims_supported: ['iss', 'sub', 'aud', 'azp', 'exp', 'iat', 'auth_time', 'nonce', 'email', 'email_verified', 'principal', 'federation', 'sid'],
    authorization_response_iss_parameter_supported: true,
    request_parameter_supported: false,
    request_uri_parameter_supported: false,
  }
}
