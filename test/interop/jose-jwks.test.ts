import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose'
import { afterAll, describe, expect, it } from 'vitest'
import { startPostern, type PosternProcess } from '../support/server.js'

/**
 * Postern's ID tokens verify with a standard client (panva's jose) from the advertised discovery
 * document; after a key rotation, tokens signed by the retired key still verify until they expire
 * (DESIGN §3).
 */
describe('ID tokens and the JWKS, with jose', () => {
  let p: PosternProcess
  afterAll(() => p?.stop())

  it('verifies through createRemoteJWKSet, across a key rotation', async () => {
    p = await startPostern({ args: ['--key-rotation', '4s'], env: { NODE_ENV: 'test' } })
    const discovery = (await (await fetch(`${p.controlUrl}/.well-known/openid-configuration`)).json()) as { issuer: string; jwks_uri: string }
    expect(discovery.issuer).toBe(p.controlUrl)
    const jwks = createRemoteJWKSet(new URL(discovery.jwks_uri), { cacheMaxAge: 0, cooldownDuration: 0 })
    const mint = async () => {
      const r = await p.cli(['auth', 'print-identity-token', '--audiences', 'https://api.example.com'])
      expect(r.code, r.stderr).toBe(0)
      return r.stdout.trim()
    }

    const apiToken = await p.ownerToken()
    const first = await mint()
    const { payload } = await jwtVerify(first, jwks, { issuer: discovery.issuer, audience: 'https://api.example.com' })
    expect(payload.email).toBe('owner@example.com')
    const firstKid = decodeProtectedHeader(first).kid

    // Wait until a newer key has taken over signing.
    let later = first
    for (let i = 0; i < 60 && decodeProtectedHeader(later).kid === firstKid; i++) {
      await new Promise((r) => setTimeout(r, 500))
      later = await mint()
    }
    expect(decodeProtectedHeader(later).kid).not.toBe(firstKid)
    await jwtVerify(later, jwks, { issuer: discovery.issuer, audience: 'https://api.example.com' })

    // The retired key is still published, so the first token still verifies.
    const published = (await (await fetch(discovery.jwks_uri)).json()) as { keys: { kid: string }[] }
    expect(published.keys.map((k) => k.kid)).toContain(firstKid)
    await jwtVerify(first, jwks, { issuer: discovery.issuer, audience: 'https://api.example.com' })
    // …and the API still accepts an API token signed before the rotation.
    expect(decodeProtectedHeader(apiToken).kid).not.toBe(decodeProtectedHeader(later).kid)
    expect((await p.api('GET', '/v1/roles', undefined, apiToken)).status).toBe(200)
  }, 60_000)
})
