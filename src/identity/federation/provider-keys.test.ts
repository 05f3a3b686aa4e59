import { describe, expect, it } from 'vitest'
import { FAILURE_REMEMBERED_MS, ProviderFetchError, ProviderKeySource, type FetchJson } from './provider-keys.js'

/** Discovery and JWKS caching for external providers, with the network swapped for a table of documents. */
const ISSUER = 'https://idp.example.com'

function fakeNetwork(docs: Record<string, unknown>, maxAge?: number) {
  const calls: string[] = []
  let down = false
  const fetchJson: FetchJson = async (url) => {
    calls.push(url)
    if (down || !(url in docs)) throw new ProviderFetchError(`cannot fetch ${url}`)
    return { body: docs[url], maxAgeSeconds: maxAge }
  }
  return { fetchJson, calls, setDown: (d: boolean) => (down = d) }
}

const discovery = { issuer: ISSUER, authorization_endpoint: `${ISSUER}/auth`, token_endpoint: `${ISSUER}/token`, jwks_uri: `${ISSUER}/jwks`, id_token_signing_alg_values_supported: ['RS256', 'HS256', 'none'] }

describe('provider keys', () => {
  it('fetches discovery then the JWKS, keeps only signing keys and asymmetric algorithms, and caches both', async () => {
    const net = fakeNetwork({ [`${ISSUER}/.well-known/openid-configuration`]: discovery, [`${ISSUER}/jwks`]: { keys: [{ kty: 'RSA', kid: 'a', n: 'x', e: 'AQAB' }, { kty: 'RSA', kid: 'enc', use: 'enc' }, { kty: 'oct', kid: 's', k: 'c2VjcmV0' }] } })
    let now = 0
    const source = new ProviderKeySource(net.fetchJson, () => now)
    const keys = await source.keys({ issuerUri: ISSUER, jwksJson: null })
    expect(keys.algorithms).toEqual(['RS256'])
    expect(keys.jwks.keys.map((k) => k.kid)).toEqual(['a'])
    now += 60_000
    await source.keys({ issuerUri: ISSUER, jwksJson: null })
    expect(net.calls).toHaveLength(2)
    now += 600_000
    await source.keys({ issuerUri: ISSUER, jwksJson: null })
    expect(net.calls.filter((c) => c.endsWith('/jwks'))).toHaveLength(2)
  })

  it('refetches the JWKS for an unknown kid at most once per cooldown', async () => {
    const net = fakeNetwork({ [`${ISSUER}/.well-known/openid-configuration`]: discovery, [`${ISSUER}/jwks`]: { keys: [] } })
    let now = 0
    const source = new ProviderKeySource(net.fetchJson, () => now)
    await source.keys({ issuerUri: ISSUER, jwksJson: null })
    for (let i = 0; i < 5; i++) await source.keys({ issuerUri: ISSUER, jwksJson: null }, { refresh: true })
    expect(net.calls.filter((c) => c.endsWith('/jwks'))).toHaveLength(1)
    now += 30_000
    await source.keys({ issuerUri: ISSUER, jwksJson: null }, { refresh: true })
    expect(net.calls.filter((c) => c.endsWith('/jwks'))).toHaveLength(2)
  })

  it('refuses a discovery document naming another issuer', async () => {
    const net = fakeNetwork({ [`${ISSUER}/.well-known/openid-configuration`]: { ...discovery, issuer: 'https://evil.example' } })
    await expect(new ProviderKeySource(net.fetchJson, () => 0).endpoints(ISSUER)).rejects.toThrow(/names issuer "https:\/\/evil.example"/)
  })

  it('fetches keys only from the issuer’s origin, and tells the operator (not the caller) why not', async () => {
    const net = fakeNetwork({ [`${ISSUER}/.well-known/openid-configuration`]: { ...discovery, jwks_uri: 'http://127.0.0.1:5432/' } })
    const failures: string[] = []
    const source = new ProviderKeySource(net.fetchJson, () => 0, (issuer, detail) => failures.push(`${issuer}: ${detail}`))
    await expect(source.keys({ issuerUri: ISSUER, jwksJson: null })).rejects.toBeInstanceOf(ProviderFetchError)
    expect(net.calls).toEqual([`${ISSUER}/.well-known/openid-configuration`])
    expect(failures).toEqual([`${ISSUER}: the discovery document's jwks_uri "http://127.0.0.1:5432/" is not on the issuer's origin (https and the issuer's host), so Postern does not fetch it`])
  })

  it('shares one fetch among concurrent callers, and remembers a failure for a few seconds', async () => {
    const calls: string[] = []
    let fail: (err: Error) => void = () => {}
    const fetchJson: FetchJson = (url) => {
      calls.push(url)
      return new Promise((_, reject) => (fail = reject))
    }
    let now = 0
    const source = new ProviderKeySource(fetchJson, () => now)
    const waiting = Array.from({ length: 30 }, () => source.keys({ issuerUri: ISSUER, jwksJson: null }).then(() => 'ok', (e: unknown) => e))
    await Promise.resolve()
    fail(new ProviderFetchError('timed out'))
    expect((await Promise.all(waiting)).every((e) => e instanceof ProviderFetchError)).toBe(true)
    expect(calls).toHaveLength(1)
    now += FAILURE_REMEMBERED_MS - 1
    await expect(source.keys({ issuerUri: ISSUER, jwksJson: null })).rejects.toBeInstanceOf(ProviderFetchError)
    expect(calls).toHaveLength(1)
    now += 1
    void source.keys({ issuerUri: ISSUER, jwksJson: null }).catch(() => undefined)
    expect(calls).toHaveLength(2)
  })

  it('serves what it fetched before while the provider is down, for a day', async () => {
    const net = fakeNetwork({ [`${ISSUER}/.well-known/openid-configuration`]: discovery, [`${ISSUER}/jwks`]: { keys: [{ kty: 'RSA', kid: 'a' }] } })
    let now = 0
    const source = new ProviderKeySource(net.fetchJson, () => now)
    await source.keys({ issuerUri: ISSUER, jwksJson: null })
    net.setDown(true)
    now += 2 * 3_600_000
    expect((await source.keys({ issuerUri: ISSUER, jwksJson: null })).jwks.keys).toHaveLength(1)
    now += 24 * 3_600_000
    await expect(source.keys({ issuerUri: ISSUER, jwksJson: null })).rejects.toBeInstanceOf(ProviderFetchError)
  })

  it('uses an inline JWKS without fetching anything', async () => {
    const net = fakeNetwork({})
    const keys = await new ProviderKeySource(net.fetchJson, () => 0).keys({ issuerUri: ISSUER, jwksJson: JSON.stringify({ keys: [{ kty: 'EC', kid: 'e', alg: 'ES256' }] }) })
    expect(keys.algorithms).toEqual(['ES256'])
    expect(net.calls).toEqual([])
  })
})
