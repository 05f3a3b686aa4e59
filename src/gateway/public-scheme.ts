/**
 * The scheme callers use, as the upstream learns it (X-Forwarded-Proto): https when the gateway
 * serves TLS itself, or when its public URL (--gateway-url) is https. Then a proxy in front ends
 * TLS and sends plain HTTP here, yet the app must build https links and redirects (an app that
 * insists on https would otherwise redirect for ever); Cloud Run and IAP always say https.
 */
export function publicScheme(gatewayUrl: URL, tls: boolean): 'http' | 'https' {
  return tls || gatewayUrl.protocol === 'https:' ? 'https' : 'http'
}
