import type { JSONWebKeySet } from 'jose'
import { BoundedCache } from '../../core/bounded-cache.js'
import { ASYMMETRIC_ALGORITHMS, type ProviderKeys } from './external-token.js'
import { browserSafe, fetchableFromIssuer } from './provider-urls.js'

/**
 * The keys and endpoints of external OpenID Providers: the discovery document
 * (`issuer` must be the configured issuer exactly, OpenID Discovery §4.3) and the JWKS it names,
 * each fetched with a timeout and a size bound and cached; an unknown kid refetches the JWKS at
 * most once per cooldown (a provider rotating its keys), so a stream of forged kids cannot make
 * Postern hammer the provider. One fetch per document is in flight at a time (concurrent callers
 * share it) and a failure is remembered for a few seconds, so a provider that hangs costs one
 * outbound request, not one per exchange. A provider's inline JWKS is used as configured, fetching nothing.
 * The network is one injected function.
 *
 * The discovery document may only send Postern's own fetches to the issuer's origin
 * (provider-urls.ts). What went wrong in a fetch is for the operator's log (`onFailure`), never
 * for the caller, who could otherwise use Postern to probe what it can reach.
 */
export type FetchJson = (url: string) => Promise<{ body: unknown; maxAgeSeconds: number | undefined }>

export interface ProviderEndpoints {
  issuer: string
  authorizationEndpoint: string
  tokenEndpoint: string
  jwksUri: string
  algorithms: readonly string[]
}

/** A provider's document could not be had; `message` is the detail for the log, not for callers. */
export class ProviderFetchError extends Error {
  override readonly name = 'ProviderFetchError'
}

/** What callers are told when a provider's documents cannot be fetched, whatever the reason. */
export const PROVIDER_UNREACHABLE = 'Postern could not fetch the identity provider’s keys or endpoints'

const DISCOVERY_TTL_MS = 3_600_000
const JWKS_TTL = { min: 60_000, default: 600_000, max: 3_600_000 }
const REFETCH_COOLDOWN_MS = 30_000
/** A provider that is down is served from what was fetched before, for this long. */
const STALE_OK_MS = 24 * 3_600_000
/**
 * After a failed fetch, callers get the same failure (or what was fetched before) for this long
 * without a new fetch: a provider that hangs or refuses is not asked again per exchange.
 */
export const FAILURE_REMEMBERED_MS = 5_000

interface Cached<T> {
  value: T
  fetched: number
  expires: number
}

export class ProviderKeySource {
  private readonly discovery = new BoundedCache<string, Cached<ProviderEndpoints>>(1_000)
  private readonly jwks = new BoundedCache<string, Cached<JSONWebKeySet>>(1_000)
  private readonly inflight = new Map<string, Promise<unknown>>()
  private readonly failures = new BoundedCache<string, { error: ProviderFetchError; until: number }>(1_000)

  constructor(
    private readonly fetchJson: FetchJson,
    private readonly clock: () => number,
    private readonly onFailure: (issuer: string, detail: string) => void = () => {},
  ) {}

  async endpoints(issuer: string): Promise<ProviderEndpoints> {
    return this.cached(this.discovery, `discovery ${issuer}`, issuer, async () => {
      const { body } = await this.fetchJson(`${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`)
      const doc = body as Record<string, unknown>
      if (typeof doc !== 'object' || doc === null) throw new ProviderFetchError('the discovery document is not a JSON object')
      if (doc.issuer !== issuer) throw new ProviderFetchError(`the discovery document names issuer ${JSON.stringify(doc.issuer)}, not ${issuer}`)
      const url = (name: string, allowed: (value: string) => boolean) => {
        const value = doc[name]
        if (typeof value !== 'string') throw new ProviderFetchError(`the discovery document has no ${name}`)
        if (!allowed(value)) throw new ProviderFetchError(`the discovery document's ${name} ${JSON.stringify(value.slice(0, 300))} is not on the issuer's origin (https and the issuer's host), so Postern does not fetch it`)
        return value
      }
      const ownOrigin = (value: string) => fetchableFromIssuer(issuer, value)
      const advertised = Array.isArray(doc.id_token_signing_alg_values_supported) ? doc.id_token_signing_alg_values_supported.filter((a): a is string => typeof a === 'string') : ['RS256']
      return {
        value: {
          issuer,
          authorizationEndpoint: url('authorization_endpoint', browserSafe),
          tokenEndpoint: url('token_endpoint', ownOrigin),
          jwksUri: url('jwks_uri', ownOrigin),
          algorithms: advertised.filter((a) => ASYMMETRIC_ALGORITHMS.includes(a)),
        },
        ttlMs: DISCOVERY_TTL_MS,
      }
    })
  }

  /** The provider's keys: inline when configured, else its JWKS; `refresh` asks for a fresh JWKS (an unknown kid). */
  async keys(provider: { issuerUri: string; jwksJson: string | null }, o: { refresh?: boolean } = {}): Promise<ProviderKeys> {
    if (provider.jwksJson) {
      const jwks = JSON.parse(provider.jwksJson) as JSONWebKeySet
      const declared = jwks.keys.map((k) => k.alg)
      const algorithms = declared.every((a): a is string => typeof a === 'string') ? [...new Set(declared)] : ASYMMETRIC_ALGORITHMS
      return { jwks, algorithms: algorithms.filter((a) => ASYMMETRIC_ALGORITHMS.includes(a)) }
    }
    const endpoints = await this.endpoints(provider.issuerUri)
    const cached = this.jwks.get(`jwks ${endpoints.jwksUri}`)
    if (o.refresh && cached && this.clock() - cached.fetched >= REFETCH_COOLDOWN_MS) cached.expires = 0
    const jwks = await this.cached(this.jwks, `jwks ${endpoints.jwksUri}`, provider.issuerUri, async () => {
      const { body, maxAgeSeconds } = await this.fetchJson(endpoints.jwksUri)
      const keys = (body as { keys?: unknown })?.keys
      if (!Array.isArray(keys)) throw new ProviderFetchError('the JWKS has no keys array')
      // Encryption keys and symmetric keys are never used to verify a signature.
      const usable = keys.filter((k): k is JSONWebKeySet['keys'][number] => typeof k === 'object' && k !== null && (k.use === undefined || k.use === 'sig') && k.kty !== 'oct')
      const ttl = Math.min(JWKS_TTL.max, Math.max(JWKS_TTL.min, maxAgeSeconds !== undefined ? maxAgeSeconds * 1000 : JWKS_TTL.default))
      return { value: { keys: usable.slice(0, 100) }, ttlMs: ttl }
    })
    return { jwks, algorithms: endpoints.algorithms }
  }

  private async cached<T>(map: BoundedCache<string, Cached<T>>, key: string, issuer: string, load: () => Promise<{ value: T; ttlMs: number }>): Promise<T> {
    const now = this.clock()
    const hit = map.get(key)
    if (hit && hit.expires > now) return hit.value
    const stale = () => (hit && now - hit.fetched < STALE_OK_MS ? hit.value : undefined)
    const failed = this.failures.get(key)
    if (failed && failed.until > now) {
      const value = stale()
      if (value !== undefined) return value
      throw failed.error
    }
    let pending = this.inflight.get(key) as Promise<T> | undefined
    if (!pending) {
      pending = (async () => {
        try {
          const { value, ttlMs } = await load()
          const at = this.clock()
          map.set(key, { value, fetched: at, expires: at + ttlMs })
          this.failures.delete(key)
          return value
        } catch (caught) {
          const error = caught instanceof ProviderFetchError ? caught : new ProviderFetchError((caught as Error).message)
          this.failures.set(key, { error, until: this.clock() + FAILURE_REMEMBERED_MS })
          this.onFailure(issuer, error.message)
          throw error
        } finally {
          this.inflight.delete(key)
        }
      })()
      this.inflight.set(key, pending)
    }
    try {
      return await pending
    } catch (err) {
      const value = stale()
      if (value !== undefined) return value
      throw err
    }
  }
}
