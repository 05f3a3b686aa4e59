import { usageError } from './errors.js'

/**
 * The `external_account` credential configuration `postern iam workforce-pools
 * create-cred-config` writes: Google's file, as google-auth-library (Node) and google-auth
 * (Python) load it unmodified, with Postern's audience and endpoints. Google's libraries exchange
 * the token in `credential_source` at `token_url` (RFC 8693) for an access token, which is good
 * for the Postern API only; with `service_account_impersonation_url` they then trade it for a
 * service account's access token, again for the API.
 *
 * Never `workforce_pool_user_project`: gcloud requires it for Google's workforce pools (the
 * project billed for quota), and the libraries refuse it for any audience other than
 * `//iam.googleapis.com/locations/…/workforcePools/…`, so a file holding it does not load at all.
 */
export const EXTERNAL_ACCOUNT_TYPE = 'external_account'
/** The subject token is an OpenID Connect ID token, as gcloud writes for OIDC workforce providers. */
export const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token'

export type CredentialSourceFormat = { type: 'text' } | { type: 'json'; subject_token_field_name: string }

export interface ExternalAccountFile {
  type: typeof EXTERNAL_ACCOUNT_TYPE
  /** //iam.postern/workforcePools/POOL/providers/PROVIDER */
  audience: string
  subject_token_type: typeof ID_TOKEN_TYPE
  token_url: string
  credential_source: { file: string; format?: CredentialSourceFormat }
  service_account_impersonation_url?: string
}

export interface CredentialConfigInput {
  audience: string
  /** This Postern's token endpoint, as its discovery document names it. */
  tokenUrl: string
  /** Where this Postern's API is, for the IAM Credentials path (the issuer, as tokenUrl's). */
  apiBase: string
  sourceFile: string
  sourceType?: 'text' | 'json'
  sourceFieldName?: string
  serviceAccount?: string
}

/** The file's content; a usage error for flags that do not go together (as gcloud's). */
export function credentialConfig(o: CredentialConfigInput): ExternalAccountFile {
  return {
    type: EXTERNAL_ACCOUNT_TYPE,
    audience: o.audience,
    subject_token_type: ID_TOKEN_TYPE,
    token_url: o.tokenUrl,
    credential_source: { file: o.sourceFile, ...sourceFormat(o) },
    // The email as it is, not percent-encoded: the libraries read it back from this URL with
    // /serviceAccounts\/([^:]+):generateAccessToken$/ (and Postern takes either form).
    ...(o.serviceAccount !== undefined && { service_account_impersonation_url: `${o.apiBase}/v1/projects/-/serviceAccounts/${o.serviceAccount}:generateAccessToken` }),
  }
}

function sourceFormat(o: CredentialConfigInput): { format?: CredentialSourceFormat } {
  if (o.sourceType === undefined || o.sourceType === 'text') {
    if (o.sourceFieldName !== undefined) throw usageError('--credential-source-field-name goes with --credential-source-type=json (the file is JSON and the token is that field).')
    return o.sourceType === 'text' ? { format: { type: 'text' } } : {}
  }
  if (!o.sourceFieldName) throw usageError('--credential-source-type=json needs --credential-source-field-name: the field of the JSON file that holds the token (e.g. id_token).')
  return { format: { type: 'json', subject_token_field_name: o.sourceFieldName } }
}
