/** A certificate with fewer days than this left is said in the log: certbot renews at 30, so at 14 its renewals are failing. */
export const EXPIRY_WARNING_DAYS = 14

const DAY_MS = 86_400_000

/**
 * What to log about the served certificate's expiry (`validTo` as X509Certificate words it), or
 * nothing while it has EXPIRY_WARNING_DAYS or more left. Clients refuse a certificate that has
 * run out, and the gauge on /metrics is only seen where someone alerts on it.
 */
export function expiryNotice(validTo: string, nowMs: number): { level: 'warn' | 'error'; message: string } | undefined {
  const left = Date.parse(validTo) - nowMs
  if (!Number.isFinite(left) || left >= EXPIRY_WARNING_DAYS * DAY_MS) return undefined
  if (left <= 0) return { level: 'error', message: `the TLS certificate expired on ${validTo}: clients refuse it. Renew --tls-cert; the renewed pair is served within seconds (at once on SIGHUP), without a restart.` }
  const days = Math.floor(left / DAY_MS)
  const within = days >= 1 ? `${days} day${days === 1 ? '' : 's'}` : `${Math.max(1, Math.floor(left / 3_600_000))} hour${left < 7_200_000 ? '' : 's'}`
  return { level: 'warn', message: `the TLS certificate expires in ${within} (${validTo}): renew --tls-cert; the renewed pair is served within seconds, without a restart.` }
}
