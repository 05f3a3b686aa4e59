import { readFileSync } from 'node:fs'
import { rootCertificates } from 'node:tls'

/** Debian's bundle of the system's trusted CAs (`postern nginx-config --upstream-ca` defaults to it). */
export const SYSTEM_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt'

/**
 * The CAs nginx trusts for https upstreams, in PEM: the ones Postern's own gateway trusts, so both
 * data planes accept the same upstream certificates — Node's built-in roots and those of
 * NODE_EXTRA_CA_CERTS (a file Node cannot read is skipped, as Node skips it: the warning says so).
 */
export function nodeTrustedCertificates(extra: string | undefined, warn: (message: string) => void): string {
  const pems = [...rootCertificates]
  if (extra) {
    try {
      pems.push(readFileSync(extra, 'utf8'))
    } catch (err) {
      warn(`NODE_EXTRA_CA_CERTS: cannot read ${extra} (${(err as NodeJS.ErrnoException).code ?? String(err)}); nginx trusts the built-in CAs only, as Node does.`)
    }
  }
  return pems.map((p) => p.trim()).join('\n') + '\n'
}
