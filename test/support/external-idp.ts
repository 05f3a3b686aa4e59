import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { SignJWT } from 'jose'
import type { Page } from 'playwright-core'

/**
 * A real external OpenID Provider for the workforce federation tests: panva's
 * oidc-provider (a certified implementation) on a loopback port, with one public client (no
 * secret, PKCE, loopback redirect URIs as RFC 8252 allows, and Postern's console callback) and
 * people whose claims — email, name, groups — come from a map the test may change between
 * sign-ins. Its dev interactions give a login form (any login, any password) and a consent page.
 * The test also holds the provider's signing key, to mint the tokens a CI system would hold and
 * the bad tokens the exchange must refuse.
 */
export interface Person {
  email: string
  name: string
  groups: string[]
}

export interface ExternalIdp {
  issuer: string
  clientId: string
  people: Map<string, Person>
  /** The provider's own signing key (private JWK with kid), as its JWKS publishes it. */
  key: { kid: string; privateKey: KeyObject; publicJwk: Record<string, unknown> }
  /** Signs a token as this provider would (or, with `key`, with another key). */
  mint(claims: Record<string, unknown>, o?: { key?: KeyObject; kid?: string; alg?: string; iss?: string; typ?: string }): Promise<string>
  /** Fills the provider's dev login form and consent page in the browser. */
  signIn(page: Page, login: string): Promise<void>
  close(): Promise<void>
}

export async function startExternalIdp(o: { consoleCallback?: string } = {}): Promise<ExternalIdp> {
  const { default: Provider } = await import('oidc-provider')
  const people = new Map<string, Person>()
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const kid = `idp-${randomUUID().slice(0, 8)}`
  const privateJwk = { ...privateKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' }
  const publicJwk = { ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' }
  const clientId = 'postern-test-client'

  const server: Server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

  const provider = new Provider(issuer, {
    clients: [{
      client_id: clientId,
      application_type: 'native',
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code'],
      response_types: ['code'],
      redirect_uris: ['http://127.0.0.1/', ...(o.consoleCallback ? [o.consoleCallback] : [])],
    }],
    jwks: { keys: [privateJwk] },
    cookies: { keys: ['external-idp-test-cookie-key'] },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'groups'] },
    // Claims of the granted scopes in the ID token itself, as Entra ID and Okta (configured) put them.
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: true } },
    ttl: { IdToken: 3600, AccessToken: 3600, AuthorizationCode: 60, Session: 3600, Interaction: 600, Grant: 3600 },
    async findAccount(_ctx: unknown, id: string) {
      if (!people.has(id)) return undefined
      return {
        accountId: id,
        async claims() {
          const person = people.get(id)!
          return { sub: id, email: person.email, email_verified: true, name: person.name, groups: [...person.groups] }
        },
      }
    },
  })
  server.on('request', provider.callback())

  return {
    issuer,
    clientId,
    people,
    key: { kid, privateKey, publicJwk },
    async mint(claims, m = {}) {
      const now = Math.floor(Date.now() / 1000)
      return new SignJWT({ iat: now, exp: now + 600, aud: clientId, ...claims })
        .setProtectedHeader({ alg: m.alg ?? 'RS256', kid: m.kid ?? kid, typ: m.typ ?? 'JWT' })
        .setIssuer(m.iss ?? issuer)
        .sign(m.key ?? privateKey)
    },
    async signIn(page, login) {
      await page.locator('input[name="login"]').fill(login)
      await page.locator('input[name="password"]').fill('any password will do')
      await page.locator('button[type="submit"]').click()
      // A consent page follows on a person's first sign-in with this client; otherwise the browser is sent back at once.
      const consent = page.getByRole('button', { name: 'Continue' })
      const next = await Promise.race([
        consent.waitFor({ timeout: 20_000 }).then(() => 'consent', () => 'none'),
        page.waitForURL((url) => !url.href.startsWith(issuer), { timeout: 20_000 }).then(() => 'left', () => 'none'),
      ])
      if (next === 'consent') await consent.click()
    },
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}
