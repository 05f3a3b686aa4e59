import { describe, expect, it } from 'vitest'
import { encodeGrpcMessage, grpcCode, isGrpc } from './grpc-status.js'

describe('gRPC status for gateway refusals', () => {
  it('maps 401 and 403 to UNAUTHENTICATED and PERMISSION_DENIED, unreachable upstreams to UNAVAILABLE', () => {
    expect(grpcCode('UNAUTHENTICATED')).toBe(16)
    expect(grpcCode('PERMISSION_DENIED')).toBe(7)
    expect(grpcCode('NOT_FOUND')).toBe(5)
    expect(grpcCode('BAD_GATEWAY')).toBe(14)
    expect(grpcCode('DEADLINE_EXCEEDED')).toBe(4)
  })

  it('knows gRPC content types, not gRPC-Web or JSON', () => {
    expect(isGrpc('application/grpc')).toBe(true)
    expect(isGrpc('application/grpc+proto')).toBe(true)
    expect(isGrpc('Application/GRPC;charset=x')).toBe(true)
    expect(isGrpc('application/grpc-web')).toBe(false)
    expect(isGrpc('application/json')).toBe(false)
    expect(isGrpc(undefined)).toBe(false)
  })

  it('percent-encodes grpc-message as the spec says, and decodes back to the same words', () => {
    expect(encodeGrpcMessage("Permission 'run.routes.invoke' denied")).toBe("Permission 'run.routes.invoke' denied")
    expect(encodeGrpcMessage('100% ünï\n')).toBe('100%25 %C3%BCn%C3%AF%0A')
    const message = 'any ‘quoted’ text — 50% of it\r\n'
    expect(decodeURIComponent(encodeGrpcMessage(message))).toBe(message)
  })
})
