import type { Server } from 'node:http'
import type { Duplex } from 'node:stream'
import type { ErrorStatus } from '../core/errors.js'
import { answerBytes, errorAnswer } from './answer.js'

/**
 * What Node's HTTP parser refuses, and CONNECT, answered in the one error shape
 * ({"error":{"code","status","message"}}) rather than Node's bare status line, or (for CONNECT)
 * a connection closed without a word. The connection is closed once the answer is written: a
 * client still sending (headers trickling in past the timeout) is not waited for.
 */
export function answerRefusedRequests(server: Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    // A response under way on this connection (a pipelined request after it was malformed) is not
    // to be interleaved with: the connection just ends, as Node's own handler does then.
    const underway = (socket as Duplex & { _httpMessage?: unknown })._httpMessage
    if (err.code === 'ECONNRESET' || !socket.writable || underway) return void socket.destroy()
    const [status, message] = clientErrorAnswer(err.code)
    answerAndClose(socket, answerBytes(errorAnswer(status, message, undefined)))
  })
  server.on('connect', (_req, socket: Duplex) => {
    answerAndClose(socket, answerBytes(errorAnswer('METHOD_NOT_ALLOWED', 'CONNECT is not served here: nothing is tunnelled but an upgrade a service answers with 101.', undefined)))
  })
}

function clientErrorAnswer(code: string | undefined): [ErrorStatus, string] {
  if (code === 'HPE_HEADER_OVERFLOW') return ['REQUEST_HEADER_FIELDS_TOO_LARGE', 'The request headers are too large.']
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return ['REQUEST_TIMEOUT', 'The request did not arrive in time.']
  return ['INVALID_ARGUMENT', 'The request is malformed.']
}

function answerAndClose(socket: Duplex, bytes: string): void {
  socket.end(bytes, () => socket.destroy())
}
