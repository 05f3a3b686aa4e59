import { createPublicKey } from 'node:crypto'
import { invalid } from '../../core/errors.js'
import { FEDERATION_PREFIX, POOL_ID, printable } from '../../iam/members.js'

/**
 * Names and settings of workforce pools and their OIDC providers, checked once at the
 * API boundary. Pure.
 */
export const PROVIDER_ID = /^[a-z0-9][a-z0-9-]{2,30}[a-z0-9]$/
export const SESSION_SECONDS = { min: 900, max: 43_200, default: 3_600 } as const

export const poolName = (poolId: string) => `workforcePools/${poolId}`
export const providerName = (poolId: string, providerId: string) => `workforcePools/${poolId}/providers/${providerId}`

/** The audience a token exchange names, as Google's STS does: `//iam.postern/workforcePools/P/providers/X`. */
export const providerAudience = (poolId: string, providerId: string) => `//${FEDERATION_PREFIX}${poolId}/providers/${providerId}`

export function parseProviderAudience(raw: string): { poolId: string; providerId: string } | undefined {
  const m = /^\/\/iam\.postern\/workforcePools\/([^/]+)\/providers\/([^/]+)$/.exec(raw)
  return m && POOL_ID.test(m[1]!) && PROVIDER_ID.test(m[2]!) ? { poolId: m[1]!, providerId: m[2]! } : undefined
}

export function parsePoolId(raw: unknown): string {
  if (typeof raw !== 'string' || !POOL_ID.test(raw)) {
    throw invalid(`Invalid workforce pool id '${printable(String(raw))}': 6–63 lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen.`)
  }
  return raw
}

export function parseProviderId(raw: unknown): string {
  if (typeof raw !== 'string' || !PROVIDER_ID.test(raw)) {
    throw invalid(`Invalid provider id '${printable(String(raw))}': 4–32 lowercase letters, digits and hyphens, not starting or ending with a hyphen.`)
  }
  return raw
}

/** "3600s" (Google's Duration JSON) or a number of seconds, within 15 minutes and 12 hours. */
export function parseSessionDuration(raw: unknown): number {
  const seconds = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d{1,6}s$/.test(raw) ? Number(raw.slice(0, -1)) : NaN
  if (!Number.isSafeInteger(seconds)) throw invalid(`sessionDuration must be a number of seconds such as "3600s", got '${printable(String(raw))}'.`)
  if (seconds < SESSION_SECONDS.min || seconds > SESSION_SECONDS.max) throw invalid(`sessionDuration must be between 900s (15 minutes) and 43200s (12 hours), got ${seconds}s.`)
  return seconds
}

const LOOPBACK = new Set(['127.0.0.1', '[::1]', 'localhost'])

/**
 * The issuer as the provider's discovery document and tokens spell it (compared exactly). https,
 * or http on a loopback address only: keys fetched over plain HTTP from elsewhere could be anyone's.
 */
export function parseIssuerUri(raw: unknown): string {
  if (typeof raw !== 'string' || raw.length > 2048) throw invalid('issuerUri must be a URL of at most 2048 characters.')
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw invalid(`issuerUri '${printable(raw)}' is not a URL.`)
  }
  if (url.username || url.password || url.search || url.hash || raw.includes('#') || raw.includes('?')) throw invalid('issuerUri may not carry credentials, a query or a fragment.')
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK.has(url.hostname))) {
    throw invalid(`issuerUri must use https (http only on a loopback address), got '${printable(raw)}'.`)
  }
  return raw
}

export function parseClientId(raw: unknown): string {
  if (typeof raw !== 'string' || !/^[\x21-\x7e]{1,255}$/.test(raw)) throw invalid('clientId must be 1–255 printable ASCII characters.')
  return raw
}

const SIGNING_KTY = new Set(['RSA', 'EC', 'OKP'])

/** An inline JWKS: public signing keys only (no symmetric or private keys), at most 50. Returns canonical JSON. */
export function parseJwksJson(raw: unknown): string {
  if (typeof raw !== 'string' || raw.length > 64 * 1024) throw invalid('jwksJson must be a JWKS (JSON text) of at most 64 KiB.')
  let value: unknown
  try {
    value = JSON.parse(raw)
  } catch {
    throw invalid('jwksJson is not JSON.')
  }
  const keys = (value as { keys?: unknown })?.keys
  if (!Array.isArray(keys) || keys.length === 0 || keys.length > 50) throw invalid('jwksJson must be {"keys": [...]} with 1 to 50 keys.')
  for (const [i, key] of keys.entries()) {
    const k = key as Record<string, unknown>
    if (typeof k !== 'object' || k === null || !SIGNING_KTY.has(String(k.kty))) throw invalid(`jwksJson key ${i}: only RSA, EC and OKP public keys are accepted.`)
    if ('d' in k || 'p' in k || 'k' in k) throw invalid(`jwksJson key ${i} holds private key material; give the public key only.`)
    if (k.use !== undefined && k.use !== 'sig') throw invalid(`jwksJson key ${i} is not for signatures (use: ${printable(String(k.use))}).`)
    try {
      createPublicKey({ key: k as import('node:crypto').JsonWebKey, format: 'jwk' })
    } catch {
      throw invalid(`jwksJson key ${i} is not a valid public key.`)
    }
  }
  return JSON.stringify({ keys })
}
