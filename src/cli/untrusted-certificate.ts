/**
 * What to tell someone whose CLI refused the server's certificate, by Node's verification error
 * code (OpenSSL's, as Node names them); undefined for errors that are not about the certificate.
 * "Cannot reach" was all it said, for a server it had reached and merely did not trust — the
 * usual first step with a self-signed `--tls-cert`.
 */
export function untrustedCertificateMessage(origin: string, code: string | undefined, said: string): string | undefined {
  const trust = `If it is your Postern's own, trust it here: export NODE_EXTRA_CA_CERTS=/path/to/cert.pem (the certificate given to --tls-cert, or the CA that signed it).`
  switch (code) {
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'CERT_UNTRUSTED':
      return `${origin} presented a certificate this machine does not trust (${said}). ${trust}`
    case 'CERT_HAS_EXPIRED':
      return `${origin} presented a certificate that has expired: renew the server's --tls-cert (Postern serves a renewed one without a restart).`
    case 'CERT_NOT_YET_VALID':
      return `${origin} presented a certificate that is not valid yet: check this machine's clock, and the server's.`
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return `${origin} presented a certificate for other names (${said}): set the server by a name its certificate has, e.g. postern config set server https://NAME:PORT.`
    default:
      return undefined
  }
}
