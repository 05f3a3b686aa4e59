import type { ErrorStatus } from '../../core/errors.js'

/**
 * gRPC's status codes (grpc/doc/statuscodes.md) for the gateway's refusals, so that a gRPC
 * client reports what happened (UNAUTHENTICATED, PERMISSION_DENIED, …) instead of an HTTP status
 * it cannot interpret. Most of Postern's statuses are Google's canonical codes already; the
 * HTTP-only ones map as gRPC's own HTTP-to-gRPC table does (502/503/504 → UNAVAILABLE) or by
 * meaning (a body that never arrived: DEADLINE_EXCEEDED; headers too large: RESOURCE_EXHAUSTED).
 */
const GRPC_CODE: Record<ErrorStatus, number> = {
  INVALID_ARGUMENT: 3,
  FAILED_PRECONDITION: 9,
  OUT_OF_RANGE: 11,
  UNAUTHENTICATED: 16,
  PERMISSION_DENIED: 7,
  NOT_FOUND: 5,
  METHOD_NOT_ALLOWED: 12,
  REQUEST_TIMEOUT: 4,
  ALREADY_EXISTS: 6,
  ABORTED: 10,
  PAYLOAD_TOO_LARGE: 8,
  UNSUPPORTED_MEDIA_TYPE: 3,
  EXPECTATION_FAILED: 9,
  RESOURCE_EXHAUSTED: 8,
  REQUEST_HEADER_FIELDS_TOO_LARGE: 8,
  INTERNAL: 13,
  BAD_GATEWAY: 14,
  UNAVAILABLE: 14,
  DEADLINE_EXCEEDED: 4,
}

export function grpcCode(status: ErrorStatus): number {
  return GRPC_CODE[status]
}

/** Whether a request is a gRPC call (`application/grpc`, `application/grpc+proto`, …; not gRPC-Web, which is another protocol). */
export function isGrpc(contentType: string | undefined): boolean {
  if (!contentType) return false
  const type = contentType.toLowerCase()
  return type === 'application/grpc' || type.startsWith('application/grpc+') || type.startsWith('application/grpc;')
}

/**
 * `grpc-message` as the gRPC HTTP/2 protocol spells it: UTF-8, every byte outside printable
 * ASCII (0x20–0x7E) and `%` itself percent-encoded, so any message survives as a header value.
 */
export function encodeGrpcMessage(message: string): string {
  let out = ''
  for (const byte of Buffer.from(message, 'utf8')) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : '%' + byte.toString(16).toUpperCase().padStart(2, '0')
  }
  return out
}
