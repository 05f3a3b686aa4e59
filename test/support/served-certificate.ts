import { X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { connect } from 'node:tls'

/** The SHA-256 fingerprint of the certificate a TLS port serves to a new connection. */
export function servedFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] }, () => {
      resolve(socket.getPeerCertificate().fingerprint256)
      socket.end()
    })
    socket.once('error', reject)
  })
}

/** The SHA-256 fingerprint of the certificate in a PEM file, as servedFingerprint gives it. */
export const fingerprintOf = (certPath: string) => new X509Certificate(readFileSync(certPath)).fingerprint256
