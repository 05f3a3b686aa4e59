import { describe, expect, it } from 'vitest'
import { credentialConfig } from './credential-config.js'

const base = { audience: '//iam.postern/workforcePools/p/providers/ci', tokenUrl: 'https://postern.example/oauth2/token', apiBase: 'https://postern.example', sourceFile: '/run/token.jwt' }

describe('credentialConfig', () => {
  it('writes Google’s external_account fields, never workforce_pool_user_project', () => {
    expect(credentialConfig(base)).toEqual({
      type: 'external_account',
      audience: base.audience,
      subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
      token_url: base.tokenUrl,
      credential_source: { file: '/run/token.jwt' },
    })
  })

  it('names the account in the generateAccessToken URL as the libraries read it back (not percent-encoded)', () => {
    const url = credentialConfig({ ...base, serviceAccount: 'ci@p.iam.postern.internal' }).service_account_impersonation_url!
    expect(url).toBe('https://postern.example/v1/projects/-/serviceAccounts/ci@p.iam.postern.internal:generateAccessToken')
    expect(/serviceAccounts\/(?<email>[^:]+):generateAccessToken$/.exec(url)?.groups?.email).toBe('ci@p.iam.postern.internal')
  })

  it('takes a text or a JSON source, the JSON one with its field only', () => {
    expect(credentialConfig({ ...base, sourceType: 'text' }).credential_source).toEqual({ file: '/run/token.jwt', format: { type: 'text' } })
    expect(credentialConfig({ ...base, sourceType: 'json', sourceFieldName: 'id_token' }).credential_source).toEqual({ file: '/run/token.jwt', format: { type: 'json', subject_token_field_name: 'id_token' } })
    expect(() => credentialConfig({ ...base, sourceType: 'json' })).toThrow(/needs --credential-source-field-name/)
    expect(() => credentialConfig({ ...base, sourceFieldName: 'id_token' })).toThrow(/goes with --credential-source-type=json/)
  })
})
