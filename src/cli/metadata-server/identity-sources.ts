import { projectOf as projectOfEmail } from '../commands/iam.js'
import type { Api } from '../api.js'
import { CliError } from '../errors.js'
import { request } from '../http-client.js'
import { serviceAccountAssertion, type Session } from '../session.js'
import { CLI_CLIENT_ID } from '../../api/clients.js'

/**
 * Whose tokens the metadata server hands out, and how it gets them from Postern: a key file (the
 * jwt-bearer grant, as Google's libraries use one), a service account impersonated by the signed-in
 * developer (generateIdToken / generateAccessToken, which need roles/iam.serviceAccountTokenCreator
 * on it — no key downloaded), or the signed-in account itself.
 */
export interface IdentitySource {
  email: string
  projectId: string
  idToken(audience: string, includeEmail: boolean): Promise<string>
  accessToken(): Promise<string>
}

export function keyFileSource(keyFile: Record<string, string>, now: () => number = Date.now): IdentitySource {
  const grant = async (targetAudience: string) => {
    const res = await request(keyFile.token_uri!, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: await serviceAccountAssertion(keyFile, targetAudience, now()) }),
    })
    const body = (await res.json().catch(() => ({}))) as Record<string, unknown>
    if (!res.ok || typeof body.id_token !== 'string' || typeof body.access_token !== 'string') {
      throw new CliError(`The token endpoint refused the key of ${keyFile.client_email}: ${String(body.error_description ?? body.error ?? `HTTP ${res.status}`)}`)
    }
    return { id: body.id_token, access: body.access_token }
  }
  return {
    email: keyFile.client_email!,
    projectId: keyFile.project_id ?? projectOfEmail(keyFile.client_email!),
    idToken: async (audience) => (await grant(audience)).id,
    accessToken: async () => (await grant(CLI_CLIENT_ID)).access,
  }
}

export function impersonationSource(api: Api, email: string): IdentitySource {
  const path = (verb: string) => `/v1/projects/-/serviceAccounts/${encodeURIComponent(email)}:${verb}`
  return {
    email,
    projectId: projectOfEmail(email),
    idToken: async (audience, includeEmail) => (await api.call<{ token: string }>('POST', path('generateIdToken'), { audience, includeEmail })).token,
    accessToken: async () => (await api.call<{ accessToken: string }>('POST', path('generateAccessToken'), {})).accessToken,
  }
}

export function signedInSource(session: Session, account: string, projectId: string): IdentitySource {
  return {
    email: account,
    projectId,
    idToken: (audience) => session.idToken({ audience }, account),
    accessToken: () => session.accessToken(account),
  }
}
