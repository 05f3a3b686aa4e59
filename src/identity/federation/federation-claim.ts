import { ATTRIBUTE_NAME, FEDERATION_PREFIX, POOL_ID, type Member } from '../../iam/members.js'
import type { Principal } from '../../iam/principal.js'
import { PROVIDER_ID } from './workforce-names.js'

/**
 * What a Postern ID token of a federated principal says about it, in the claim `federation`: the
 * pool and the provider that signed it in, each with its uid (so a pool or provider deleted and
 * re-created under the same id does not honour the old one's tokens), the mapped subject, groups
 * and attributes. The token's `sub` is the uid of the subject as that provider knows it, stable
 * across its sign-ins, as for every Postern token (DESIGN §3).
 */
export interface FederationClaim {
  pool: string
  pool_uid: string
  provider: string
  provider_uid: string
  subject: string
  groups: string[]
  attributes: Record<string, string>
  display_name?: string
  /** The identity provider's email for the person: shown, never matched as user: (DESIGN §1). */
  email?: string
}

const VALUE = /^[\x21-\x7e]{1,127}$/

/**
 * The most the `federation` claim may take, as UTF-8 JSON. Every token Postern issues must be
 * one it accepts — and one the proxies in front of it pass: the gateway takes tokens of up to
 * 16 KB, the control API headers of up to 16 KB in all, nginx a header line of up to 8 KB by
 * default. 4 KB of claim keeps the token (base64url, plus the other claims and an RS256
 * signature) under 8 KB with room to spare.
 */
export const MAX_FEDERATION_CLAIM_BYTES = 4096

const bytes = (value: unknown) => (value === undefined ? 0 : Buffer.byteLength(JSON.stringify(value)))

/** Why a federation claim is too large for a token, naming the largest part; undefined when it fits. */
export function oversizedClaim(claim: FederationClaim): string | undefined {
  const total = bytes(claim)
  if (total <= MAX_FEDERATION_CLAIM_BYTES) return undefined
  const parts = [
    { size: bytes(claim.groups), what: `groups (${claim.groups.length} names, ${bytes(claim.groups).toLocaleString('en')} bytes) are`, fix: "map fewer or shorter groups, e.g. postern.groups=assertion.groups.filter(g, g.startsWith('eng-'))" },
    { size: bytes(claim.attributes), what: `attributes (${Object.keys(claim.attributes).length}, ${bytes(claim.attributes).toLocaleString('en')} bytes) are`, fix: 'map fewer attributes' },
    { size: bytes(claim.display_name), what: `display name (${bytes(claim.display_name).toLocaleString('en')} bytes) is`, fix: 'map a shorter postern.display_name' },
    { size: bytes(claim.email), what: `email (${bytes(claim.email).toLocaleString('en')} bytes) is`, fix: 'leave the email out' },
  ].sort((a, b) => b.size - a.size)
  const largest = parts[0]!
  return `The identity's ${largest.what} too large for a Postern token: the federation claim would take ${total.toLocaleString('en')} bytes, at most ${MAX_FEDERATION_CLAIM_BYTES.toLocaleString('en')} fit. Ask an administrator to ${largest.fix} in the provider's attribute mapping.`
}

/** The claim of a verified Postern token, or undefined when the token is not a federated principal's (or the claim is malformed). */
export function readFederationClaim(claims: Record<string, unknown>): FederationClaim | undefined {
  const f = claims.federation as Record<string, unknown> | undefined
  if (typeof f !== 'object' || f === null || Array.isArray(f)) return undefined
  const { pool, pool_uid, provider, provider_uid, subject, groups, attributes } = f
  if (typeof pool !== 'string' || !POOL_ID.test(pool) || typeof pool_uid !== 'string' || typeof provider !== 'string' || !PROVIDER_ID.test(provider)) return undefined
  if (typeof provider_uid !== 'string' || provider_uid === '') return undefined
  if (typeof subject !== 'string' || !VALUE.test(subject)) return undefined
  if (!Array.isArray(groups) || !groups.every((g) => typeof g === 'string' && VALUE.test(g))) return undefined
  if (typeof attributes !== 'object' || attributes === null || Array.isArray(attributes)) return undefined
  const attrs: Record<string, string> = {}
  for (const [name, value] of Object.entries(attributes)) {
    if (!ATTRIBUTE_NAME.test(name) || typeof value !== 'string' || !VALUE.test(value)) return undefined
    attrs[name] = value
  }
  return {
    pool, pool_uid, provider, provider_uid, subject, groups: groups as string[], attributes: attrs,
    ...(typeof f.display_name === 'string' && { display_name: f.display_name }),
    ...(typeof f.email === 'string' && { email: f.email }),
  }
}

export function federatedMember(pool: string, subject: string): Member {
  return `principal://${FEDERATION_PREFIX}${pool}/subject/${subject}`
}

export function federatedPrincipal(uid: string, claim: FederationClaim, email: string | undefined): Extract<Principal, { kind: 'federated' }> {
  return { kind: 'federated', pool: claim.pool, subject: claim.subject, uid, ...(email && { email }), groups: claim.groups, attributes: claim.attributes }
}

export interface FederatedCaller {
  claim: FederationClaim
  principal: Extract<Principal, { kind: 'federated' }>
  member: Member
  /**
   * For per-principal caches: the uid and what the token says of groups and attributes, since two
   * tokens of one subject may differ there (an exchange after leaving a group).
   */
  key: string
}

/** The federated principal a verified Postern token names, or undefined when it names none. */
export function federatedCallerOf(claims: { sub: string; email?: string; [claim: string]: unknown }): FederatedCaller | undefined {
  const claim = readFederationClaim(claims)
  if (!claim) return undefined
  return {
    claim,
    principal: federatedPrincipal(claims.sub, claim, claim.email),
    member: federatedMember(claim.pool, claim.subject),
    key: `${claims.sub}\u0000${JSON.stringify([claim.groups, claim.attributes])}`,
  }
}
