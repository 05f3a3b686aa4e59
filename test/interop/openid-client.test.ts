import * as oidc from 'openid-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startPostern, type PosternProcess } from '../support/server.js'
import { WebAgent, createUser } from '../support/web-sign-in.js'

/**
 * A real third-party OpenID Connect client, panva's openid-client v6: discovery from
 * the issuer URL, then the authorization code flow with PKCE, the ID token's signature checked
 * against the JWKS (non-repudiation checks on), its nonce, and a refresh; and the device flow.
 */
let p: PosternProcess
const erin = 'erin@example.com'
let password: string

beforeAll(async () => {
  p = await startPostern()
  password = await createUser(p.api, erin)
})
afterAll(() => p?.stop())

async function discover(): Promise<oidc.Configuration> {
  const config = await oidc.discovery(new URL(p.controlUrl), 'postern-cli', undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] })
  oidc.enableNonRepudiationChecks(config)
  return config
}

describe('openid-client (panva) against Postern', () => {
  it('discovers the issuer and accepts its metadata', async () => {
    const config = await discover()
    const meta = config.serverMetadata()
    expect(meta.issuer).toBe(p.controlUrl)
    expect(meta.code_challenge_methods_supported).toEqual(['S256'])
    expect(meta.authorization_endpoint).toBe(`${p.controlUrl}/oauth2/authorize`)
    expect(meta.device_authorization_endpoint).toBe(`${p.controlUrl}/oauth2/device/code`)
  })

  it('runs an authorization-code + PKCE login and validates the ID token it returns', async () => {
    const config = await discover()
    const verifier = oidc.randomPKCECodeVerifier()
    const state = oidc.randomState()
    const nonce = oidc.randomNonce()
    const redirectUri = 'http://127.0.0.1:38111/cb'
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: 'openid email offline_access',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    })

    // The user's part, in a browserless agent: sent to sign in, then back to the client.
    const agent = new WebAgent(p.controlUrl)
    const first = await agent.fetch(url.href)
    expect(first.status).toBe(302)
    const returnTo = new URL(first.headers.get('location')!, p.controlUrl).searchParams.get('return_to')!
    const signedIn = await agent.signIn(erin, password, returnTo)
    expect(signedIn.status).toBe(303)
    const back = await agent.fetch(signedIn.headers.get('location')!)
    const callback = new URL(back.headers.get('location')!)
    expect(callback.origin + callback.pathname).toBe(redirectUri)

    const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true })
    const claims = tokens.claims()!
    expect(claims).toMatchObject({ iss: p.controlUrl, aud: 'postern-cli', email: erin, email_verified: true, nonce })
    expect(typeof claims.auth_time).toBe('number')
    expect(tokens.refresh_token).toBeTruthy()

    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!)
    expect(refreshed.claims()).toMatchObject({ sub: claims.sub, email: erin })
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token)
  })

  it('runs the device flow (RFC 8628): the user approves on /device while it polls', async () => {
    const config = await discover()
    const device = await oidc.initiateDeviceAuthorization(config, { scope: 'openid email offline_access' })
    expect(device.user_code).toMatch(/^[A-Z]{4}-[A-Z]{4}$/)
    const polling = oidc.pollDeviceAuthorizationGrant(config, device)

    const agent = new WebAgent(p.controlUrl)
    expect((await agent.signIn(erin, password)).status).toBe(303)
    const form = await (await agent.fetch(device.verification_uri_complete!)).text()
    const csrf = /name="csrf_token" value="([^"]+)"/.exec(form)![1]!
    const shown = /name="shown_code" value="([^"]+)"/.exec(form)![1]!
    const approved = await agent.fetch('/device', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ user_code: device.user_code, shown_code: shown, csrf_token: csrf, action: 'approve' }) })
    expect(approved.status).toBe(200)

    const tokens = await polling
    expect(tokens.claims()).toMatchObject({ iss: p.controlUrl, aud: 'postern-cli', email: erin })
  })
})
