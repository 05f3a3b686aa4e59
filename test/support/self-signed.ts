import { execFileSync } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** A self-signed certificate (openssl) for localhost, its services' names and 127.0.0.1 (or the names given, as subjectAltName), valid for `days`: cert and key paths. */
export function selfSignedCertificate(names = 'DNS:localhost,DNS:*.my-project.localhost,IP:127.0.0.1', days = 1): { cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), 'postern-tls-'))
  const cert = join(dir, 'cert.pem')
  const key = join(dir, 'key.pem')
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', String(days), '-subj', '/CN=localhost',
    '-addext', `subjectAltName=${names}`, '-keyout', key, '-out', cert], { stdio: 'ignore' })
  return { cert, key }
}
