import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SignJWT, importPKCS8 } from 'jose'
import * as oauth from 'oauth4webapi'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { gatewayStatus } from '../support/gateway-status.js'
import { startPostern, type PosternProcess } from '../support/server.js'
import { startUpstream } from '../support/upstream.js'

/**
 * oauth4webapi (panva's OAuth 2 / OIDC client, which openid-client 6 is built on), unmodified:
 * discovery at both well-known paths (OIDC's and RFC 8414's), the jwt-bearer grant with Google's
 * target_audience, the token response it insists on (access_token and token_type beside
 * id_token, the ID token's aud being the client's id), and UserInfo with the access token.
 * Ends in a 403 before the invoker grant and a 200 through the gateway after.
 */
const SA = 'oauth-bot@my-project.iam.postern.internal'
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer'
const insecure = { [oauth.allowInsecureRequests]: true } // Postern on loopback speaks plain HTTP here

let p: PosternProcess
let upstream: Awaited<ReturnType<typeof startUpstream>>
let url: string
let keyFile: Record<string, string>

beforeAll(async () => {
  ;[p, upstream] = await Promise.all([startPostern(), startUpstream()])
  const created = await p.cli(['services', 'create', 'hello', `--upstream=${upstream.url}`, '--format=json'])
  expect(created.code, created.stderr).toBe(0)
  url = JSON.parse(created.stdout).uri
  expect((await p.cli(['iam', 'service-accounts', 'create', 'oauth-bot'])).code).toBe(0)
  const file = join(mkdtempSync(join(tmpdir(), 'postern-key-')), 'key.json')
  expect((await p.cli(['iam', 'service-accounts', 'keys', 'create', file, '--iam-account', SA])).code).toBe(0)
  keyFile = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>
})
afterAll(async () => {
  await Promise.all([p?.stop(), upstream?.close()])
})

async function discover(algorithm: 'oidc' | 'oauth2'): Promise<oauth.AuthorizationServer> {
  const issuer = new URL(p.controlUrl)
  return oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm, ...insecure }))
}

/** The assertion a service-account key signs (RFC 7523 §3), with Google's target_audience. */
async function assertion(targetAudience: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  return new SignJWT({ target_audience: targetAudience })
    .setProtectedHeader({ alg: 'RS256', kid: keyFile.private_key_id! })
    .setIssuer(keyFile.client_email!)
    .setSubject(keyFile.client_email!)
    .setAudience(keyFile.token_uri!)
    .setIssuedAt(now)
    .setExpirationTime(now + 3600)
    .sign(await importPKCS8(keyFile.private_key!, 'RS256'))
}

describe('oauth4webapi', () => {
  it.each(['oidc', 'oauth2'] as const)('discovers Postern (%s: its well-known path), with every endpoint it uses', async (algorithm) => {
    const as = await discover(algorithm)
    expect(as).toMatchObject({
      issuer: p.controlUrl,
      token_endpoint: `${p.controlUrl}/oauth2/token`,
      jwks_uri: `${p.controlUrl}/oauth2/jwks`,
      userinfo_endpoint: `${p.controlUrl}/oauth2/userinfo`,
      revocation_endpoint: `${p.controlUrl}/oauth2/revoke`,
      device_authorization_endpoint: `${p.controlUrl}/oauth2/device/code`,
    })
    expect(as.grant_types_supported).toContain(JWT_BEARER)
  })

  it('jwt-bearer with target_audience: an ID token for the service and an access token; 403 before the grant, 200 through the gateway after', async () => {
    const as = await discover('oauth2')
    // As at Google, an ID token's aud is the id of the client it is for: here, the service.
    const client: oauth.Client = { client_id: url }
    const response = await oauth.genericTokenEndpointRequest(as, client, oauth.None(), JWT_BEARER, { assertion: await assertion(url) }, insecure)
    const tokens = await oauth.processGenericTokenEndpointResponse(as, client, response)
    expect(tokens.token_type).toBe('bearer')
    expect(tokens.expires_in).toBe(3600)
    expect(oauth.getValidatedIdTokenClaims(tokens)).toMatchObject({ aud: url, email: SA, iss: p.controlUrl })

    const host = new URL(url).host
    expect(await gatewayStatus(p.gatewayPort, host, tokens.id_token!)).toBe(403)
    const grant = await p.cli(['services', 'add-iam-policy-binding', 'hello', `--member=serviceAccount:${SA}`, '--role=roles/run.invoker'])
    expect(grant.code, grant.stderr).toBe(0)
    expect(await gatewayStatus(p.gatewayPort, host, tokens.id_token!)).toBe(200)
    // The access token is for the API, not for services.
    expect(await gatewayStatus(p.gatewayPort, host, tokens.access_token)).toBe(401)
  })

  it('UserInfo with the access token names the account; with the ID token it is refused with a Bearer challenge', async () => {
    const as = await discover('oidc')
    const client: oauth.Client = { client_id: 'postern-cli' }
    const response = await oauth.genericTokenEndpointRequest(as, client, oauth.None(), JWT_BEARER, { assertion: await assertion('postern-cli') }, insecure)
    const tokens = await oauth.processGenericTokenEndpointResponse(as, client, response)
    const subject = oauth.getValidatedIdTokenClaims(tokens)!.sub
    const info = await oauth.processUserInfoResponse(as, client, subject, await oauth.userInfoRequest(as, client, tokens.access_token, insecure))
    expect(info).toMatchObject({ sub: keyFile.client_id, email: SA, email_verified: true, principal: `serviceAccount:${SA}` })

    const refused = await oauth.userInfoRequest(as, client, tokens.id_token!, insecure)
    await expect(oauth.processUserInfoResponse(as, client, subject, refused)).rejects.toMatchObject({ status: 401 })
  })

  it('revocation: an access token, which cannot be revoked, gets unsupported_token_type (not a 200 that says it died); an unknown token gets 200', async () => {
    const as = await discover('oidc')
    const client: oauth.Client = { client_id: 'postern-cli' }
    const response = await oauth.genericTokenEndpointRequest(as, client, oauth.None(), JWT_BEARER, { assertion: await assertion('postern-cli') }, insecure)
    const tokens = await oauth.processGenericTokenEndpointResponse(as, client, response)
    const refused = await oauth.revocationRequest(as, client, oauth.None(), tokens.access_token, { additionalParameters: { token_type_hint: 'access_token' }, ...insecure })
    await expect(oauth.processRevocationResponse(refused)).rejects.toMatchObject({ status: 400, error: 'unsupported_token_type' })
    const unknown = await oauth.revocationRequest(as, client, oauth.None(), 'not-a-token-of-this-server', insecure)
    await expect(oauth.processRevocationResponse(unknown)).resolves.toBeUndefined()
  })
})
