import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startExternalIdp, type ExternalIdp } from '../support/external-idp.js'
import { gatewayStatus } from '../support/gateway-status.js'
import { startPostern, type PosternProcess } from '../support/server.js'
import { startUpstream } from '../support/upstream.js'
import { claimsOf, token } from '../support/web-sign-in.js'

/**
 * Every federated sign-in is tied to the provider that issued it — that provider's uid, not only
 * its pool's: one person signing in through two providers of a pool has two sign-ins, and
 * disabling, deleting or re-creating one provider ends exactly the sign-ins (refresh tokens and
 * ID tokens, at the gateway and at the control API) that it issued.
 */
const GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange'
const ID_TOKEN = 'urn:ietf:params:oauth:token-type:id_token'
const POOL = 'staff-pool'
const audience = (provider: string) => `//iam.postern/workforcePools/${POOL}/providers/${provider}`

let p: PosternProcess
let idp: ExternalIdp
let other: ExternalIdp
let upstream: Awaited<ReturnType<typeof startUpstream>>
let host: string

interface SignIn {
  idToken: string
  refreshToken: string
  uid: string
}

async function signIn(provider: string, from: ExternalIdp = idp, sub = 'ann'): Promise<SignIn> {
  const r = await token(p.controlUrl, { grant_type: GRANT, subject_token: await from.mint({ sub }), subject_token_type: ID_TOKEN, audience: audience(provider) })
  expect(r.status, JSON.stringify(r.body)).toBe(200)
  return { idToken: r.body.access_token!, refreshToken: r.body.refresh_token!, uid: claimsOf(r.body.access_token!).sub as string }
}
const refresh = (s: SignIn) => token(p.controlUrl, { grant_type: 'refresh_token', refresh_token: s.refreshToken, client_id: 'postern-cli' })
const atGateway = (s: SignIn) => gatewayStatus(p.gatewayPort, host, s.idToken)
const atApi = async (s: SignIn) => (await p.api('GET', '/v2/projects/my-project/services', undefined, s.idToken)).status
const provider = (verb: string, id: string, ...flags: string[]) => p.cli(['iam', 'workforce-pools', 'providers', verb, id, '--workforce-pool', POOL, ...flags])
const createProvider = async (id: string, from: ExternalIdp) => {
  const r = await provider('create-oidc', id, '--issuer-uri', from.issuer, '--client-id', from.clientId, '--attribute-mapping', 'postern.subject=assertion.sub')
  expect(r.code, r.stderr).toBe(0)
}

beforeAll(async () => {
  ;[p, idp, other, upstream] = await Promise.all([startPostern(), startExternalIdp(), startExternalIdp(), startUpstream()])
  expect((await p.cli(['iam', 'workforce-pools', 'create', POOL])).code).toBe(0)
  await createProvider('alpha', idp)
  await createProvider('beta', idp)
  const created = await p.cli(['services', 'create', 'staff-only', `--upstream=${upstream.url}`, '--format=json'])
  expect(created.code, created.stderr).toBe(0)
  host = new URL(JSON.parse(created.stdout).uri).host
  for (const [member, role] of [[`principalSet://iam.postern/workforcePools/${POOL}/*`, 'roles/run.invoker'], [`principalSet://iam.postern/workforcePools/${POOL}/*`, 'roles/run.viewer']] as const) {
    expect((await p.cli(['projects', 'add-iam-policy-binding', 'my-project', `--member=${member}`, `--role=${role}`])).code).toBe(0)
  }
})
afterAll(async () => {
  await p?.stop()
  await Promise.all([idp?.close(), other?.close(), upstream?.close()])
})

describe('federated sign-ins belong to the provider that issued them', () => {
  it('one person through two providers has two sign-ins; each token names its own provider', async () => {
    const [a, b] = [await signIn('alpha'), await signIn('beta')]
    expect(a.uid).not.toBe(b.uid)
    expect(claimsOf(a.idToken).federation).toMatchObject({ provider: 'alpha', subject: 'ann' })
    expect(claimsOf(b.idToken).federation).toMatchObject({ provider: 'beta', subject: 'ann' })
    const renewed = await refresh(a)
    expect(renewed.status).toBe(200)
    expect(claimsOf(renewed.body.id_token!).federation).toMatchObject({ provider: 'alpha' })
  })

  it('disabling a provider ends its sign-ins — even when the person signed in through another provider since', async () => {
    const b = await signIn('beta')
    const a = await signIn('alpha') // the person's latest sign-in is through alpha
    expect((await provider('update', 'beta', '--disabled')).code).toBe(0)
    const refused = await refresh(b)
    expect(refused.status).toBe(400)
    expect(refused.body.error).toBe('invalid_grant')
    await expect.poll(() => atGateway(b), { timeout: 1_000, interval: 50 }).toBe(401)
    expect(await atApi(b)).toBe(401)
    // alpha's sign-in is untouched.
    expect(await atGateway(a)).toBe(200)
    expect(await atApi(a)).toBe(200)
    const renewed = await refresh(a)
    expect(renewed.status, JSON.stringify(renewed.body)).toBe(200)
    expect(claimsOf(renewed.body.id_token!).federation).toMatchObject({ provider: 'alpha' })
    expect((await provider('update', 'beta', '--no-disabled')).code).toBe(0)
    // Re-enabled, beta lets people sign in again, but the sign-ins it had were ended for good.
    expect((await refresh(b)).status).toBe(400)
  })

  it('a sign-in through a provider that is then disabled does not end the other provider’s sign-ins', async () => {
    const a = await signIn('alpha')
    await signIn('beta') // the person's latest sign-in is through beta
    expect((await provider('update', 'beta', '--disabled')).code).toBe(0)
    const renewed = await refresh(a)
    expect(renewed.status, JSON.stringify(renewed.body)).toBe(200)
    expect(claimsOf(renewed.body.id_token!).federation).toMatchObject({ provider: 'alpha' })
    expect(await atGateway({ ...a, idToken: renewed.body.id_token! })).toBe(200)
    expect((await provider('update', 'beta', '--no-disabled')).code).toBe(0)
  })

  it('deleting a provider ends its sign-ins; re-created under the same id (another identity provider) it is a new identity', async () => {
    const b = await signIn('beta')
    const a = await signIn('alpha')
    expect((await provider('delete', 'beta')).code).toBe(0)
    await createProvider('beta', other)
    // The old beta's tokens do not come back with the new one.
    await expect.poll(() => atGateway(b), { timeout: 1_000, interval: 50 }).toBe(401)
    expect(await atApi(b)).toBe(401)
    const refused = await refresh(b)
    expect(refused.status).toBe(400)
    expect(refused.body.error).toBe('invalid_grant')
    // The new beta signs people in as new identities; alpha is untouched.
    const fresh = await signIn('beta', other)
    expect(fresh.uid).not.toBe(b.uid)
    expect(await atGateway(fresh)).toBe(200)
    expect((await refresh(a)).status).toBe(200)
  })
})
