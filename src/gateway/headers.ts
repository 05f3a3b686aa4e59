import type { TokenHeader } from './extract-token.js'

/** RFC 9110 §7.6.1 hop-by-hop headers, plus those only a proxy hop may use. */
const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host', 'expect', 'http2-settings',
])

/** Headers the caller may not ask us to drop with `Connection:` (they carry or guard identity). */
const PROTECTED = /^(authorization|x-serverless-authorization|x-postern-.*|x-forwarded-.*)$/

export const SIGNATURE_REMOVED = 'SIGNATURE_REMOVED_BY_POSTERN'

/** The header names a `Connection` header nominates, lowercased; undefined if it nominates a protected one. */
export function connectionNominated(rawHeaders: readonly string[]): Set<string> | undefined {
  const nominated = new Set<string>()
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.length !== 10 || rawHeaders[i]!.toLowerCase() !== 'connection') continue
    for (const token of rawHeaders[i + 1]!.split(',')) {
      const name = token.trim().toLowerCase()
      if (!name) continue
      if (PROTECTED.test(name)) return undefined
      nominated.add(name)
    }
  }
  return nominated
}

export interface UpstreamIdentity {
  tokenHeader: TokenHeader
  principal: string
  email: string
  assertion: string
}

/**
 * The request headers the upstream sees (DESIGN §4 step 6), as a flat [name, value, …] list so
 * repeated headers survive: hop-by-hop and nominated headers dropped, every client-sent
 * X-Postern-* dropped, the token's signature replaced, identity and X-Forwarded-* added last so
 * nothing the client sent can shadow them.
 */
export function upstreamHeaders(
  rawHeaders: readonly string[],
  nominated: ReadonlySet<string>,
  o: { host: string; clientIp: string; proto: 'http' | 'https'; requestId: string; identity?: UpstreamIdentity },
): string[] {
  const out: string[] = []
  let forwardedFor = ''
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!
    const lower = name.toLowerCase()
    const value = rawHeaders[i + 1]!
    if (HOP_BY_HOP.has(lower) || nominated.has(lower) || lower.startsWith('x-postern-')) continue
    if (lower === 'x-forwarded-for') {
      forwardedFor = forwardedFor ? `${forwardedFor}, ${value}` : value
      continue
    }
    if (lower === 'x-forwarded-host' || lower === 'x-forwarded-proto' || lower === 'x-request-id') continue
    if (o.identity && lower === o.identity.tokenHeader) {
      out.push(name, withoutSignature(value))
      continue
    }
    out.push(name, value)
  }
  out.push('x-forwarded-for', forwardedFor ? `${forwardedFor}, ${o.clientIp}` : o.clientIp)
  out.push('x-forwarded-proto', o.proto, 'x-forwarded-host', o.host, 'x-request-id', o.requestId)
  if (o.identity) {
    out.push('x-postern-authenticated-principal', o.identity.principal)
    out.push('x-postern-authenticated-email', o.identity.email)
    out.push('x-postern-jwt-assertion', o.identity.assertion)
  }
  return out
}

/** `Bearer h.p.s` → `Bearer h.p.SIGNATURE_REMOVED_BY_POSTERN`: the upstream can read, not replay, the caller's token. */
export function withoutSignature(value: string): string {
  const dot = value.lastIndexOf('.')
  return dot < 0 ? value : value.slice(0, dot + 1) + SIGNATURE_REMOVED
}

/**
 * Response headers from the upstream as a flat [name, value, …] list (undici's raw form, which
 * Node's writeHead takes as is), minus hop-by-hop ones and any the upstream's Connection names.
 */
export function downstreamHeaders(raw: readonly string[]): string[] {
  let nominated: Set<string> | undefined
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.length === 10 && raw[i]!.toLowerCase() === 'connection') {
      nominated ??= new Set()
      for (const t of raw[i + 1]!.split(',')) nominated.add(t.trim().toLowerCase())
    }
  }
  const out: string[] = []
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase()
    if (HOP_BY_HOP.has(lower) || nominated?.has(lower)) continue
    out.push(raw[i]!, raw[i + 1]!)
  }
  return out
}
