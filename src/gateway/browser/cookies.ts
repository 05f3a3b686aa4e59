/**
 * The cookies of a browser's session on a service's host. Both are HttpOnly, Path=/, never with a
 * Domain (host-only: no other service's host receives them or can read them), SameSite=Lax (sent
 * when the person follows a link to the service, withheld from other sites' posts, frames and
 * fetches), and Secure with the `__Host-` prefix wherever browsers allow it: under TLS, behind an
 * https gateway URL, and on `localhost` names, which browsers treat as secure contexts. With the
 * prefix no sibling host can plant or overwrite them (cookie tossing); on plain HTTP elsewhere the
 * plain names are used and only host isolation, and the refusal of duplicates, guard them.
 */
export interface BrowserCookies {
  /** The service session: an opaque random value, of which the store keeps only a hash. */
  session: string
  /** One flow's state cookie, named after the flow's public state so parallel sign-ins (restored tabs) do not collide. */
  state: (state: string) => string
  secure: boolean
}

export function browserCookies(secure: boolean): BrowserCookies {
  const prefix = secure ? '__Host-' : ''
  return {
    session: `${prefix}postern_service_session`,
    state: (state) => `${prefix}postern_state_${state.slice(0, 12)}`,
    secure,
  }
}

/** Whether browsers treat a gateway URL as a secure context, where Secure and `__Host-` cookies are kept. */
export function secureContext(gatewayUrl: URL, tls: boolean): boolean {
  const host = gatewayUrl.hostname.toLowerCase()
  return tls || gatewayUrl.protocol === 'https:' || host === 'localhost' || host.endsWith('.localhost')
}

export function setCookie(name: string, value: string, secure: boolean, maxAgeSeconds: number): string {
  return `${name}=${value}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}${secure ? '; Secure' : ''}`
}

export function clearCookie(name: string, secure: boolean): string {
  return setCookie(name, '', secure, 0)
}

/**
 * Every value of one cookie across the request's Cookie headers. More than one means some other
 * host or script planted a second cookie of that name: callers then trust none.
 */
export function cookieValues(rawHeaders: readonly string[], name: string): string[] {
  const values: string[] = []
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.length !== 6 || rawHeaders[i]!.toLowerCase() !== 'cookie') continue
    for (const part of rawHeaders[i + 1]!.split(';')) {
      const eq = part.indexOf('=')
      if (eq >= 0 && part.slice(0, eq).trim() === name) values.push(part.slice(eq + 1).trim())
    }
  }
  return values
}

/** The one value of a cookie, or undefined when it is absent or ambiguous. */
export function oneCookie(rawHeaders: readonly string[], name: string): string | undefined {
  const values = cookieValues(rawHeaders, name)
  return values.length === 1 && values[0] ? values[0] : undefined
}
