import { sign, type KeyObject } from 'node:crypto'

/**
 * A self-signed X.509 v3 certificate for one RS256 signing key, in PEM (RFC 5280 §4.1), for
 * verifiers that read keys as Google's v1 certs document serves them, `{kid: PEM certificate}`
 * (google-auth for Python 1.x parses certificates). The certificate only carries the public key:
 * nothing should trust it as a CA or for TLS, and its extensions say so.
 *
 * Node parses certificates but cannot build one; this one fixed shape is a few DER structures,
 * so it is written here rather than pulling in a PKI library (@peculiar/x509 needs a global
 * Reflect polyfill; node-forge is a whole second crypto stack). The output is deterministic for
 * a given key and validity (PKCS #1 v1.5 signatures are), so every process serves the same bytes.
 */
export interface CertificateRequest {
  publicKey: KeyObject
  privateKey: KeyObject
  /** The subject and issuer common name (the kid). */
  commonName: string
  /** Positive serial number, big-endian bytes (at most 20, RFC 5280 §4.1.2.2). */
  serial: Buffer
  notBefore: Date
  notAfter: Date
}

const OID = {
  sha256WithRsa: '1.2.840.113549.1.1.11',
  commonName: '2.5.4.3',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
} as const

export function selfSignedCertificate(r: CertificateRequest): string {
  const algorithm = seq(oid(OID.sha256WithRsa), tlv(0x05, Buffer.alloc(0)))
  const name = seq(tlv(0x31, seq(oid(OID.commonName), tlv(0x0c, Buffer.from(r.commonName, 'utf8')))))
  const extensions = seq(
    // basicConstraints, critical: not a CA.
    seq(oid(OID.basicConstraints), tlv(0x01, Buffer.from([0xff])), tlv(0x04, seq())),
    // keyUsage, critical: digitalSignature only (bit 0: one used bit, seven unused).
    seq(oid(OID.keyUsage), tlv(0x01, Buffer.from([0xff])), tlv(0x04, tlv(0x03, Buffer.from([0x07, 0x80])))),
  )
  const tbs = seq(
    tlv(0xa0, integer(Buffer.from([2]))), // v3
    integer(r.serial),
    algorithm,
    name,
    seq(time(r.notBefore), time(r.notAfter)),
    name,
    r.publicKey.export({ format: 'der', type: 'spki' }),
    tlv(0xa3, extensions),
  )
  const signature = sign('sha256', tbs, r.privateKey)
  const der = seq(tbs, algorithm, tlv(0x03, Buffer.concat([Buffer.from([0]), signature])))
  const lines = der.toString('base64').match(/.{1,64}/g) ?? []
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`
}

function tlv(tag: number, content: Buffer): Buffer {
  const n = content.length
  let length: Buffer
  if (n < 0x80) length = Buffer.from([n])
  else {
    const bytes: number[] = []
    for (let rest = n; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256)
    length = Buffer.from([0x80 | bytes.length, ...bytes])
  }
  return Buffer.concat([Buffer.from([tag]), length, content])
}

const seq = (...parts: Buffer[]) => tlv(0x30, Buffer.concat(parts))

/** A non-negative INTEGER: leading zero bytes dropped, one added when the high bit is set. */
function integer(bytes: Buffer): Buffer {
  let start = 0
  while (start < bytes.length - 1 && bytes[start] === 0) start++
  const trimmed = bytes.subarray(start)
  return tlv(0x02, trimmed[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed)
}

function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number) as [number, number, ...number[]]
  const out = [40 * a + b]
  for (const arc of rest) {
    const base128 = [arc & 0x7f]
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) base128.unshift((v & 0x7f) | 0x80)
    out.push(...base128)
  }
  return tlv(0x06, Buffer.from(out))
}

/** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050; seconds, Z. */
function time(d: Date): Buffer {
  const iso = d.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:T]/g, '')
  const year = d.getUTCFullYear()
  return year >= 1950 && year < 2050 ? tlv(0x17, Buffer.from(iso.slice(2), 'ascii')) : tlv(0x18, Buffer.from(iso, 'ascii'))
}
