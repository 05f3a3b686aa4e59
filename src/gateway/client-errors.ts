import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import type { ErrorStatus } from '../core/errors.js'
import { HTTP09_REFUSED, isHttp09 } from '../http/http09.js'
import { inTurn } from '../http/in-turn.js'
import { PLAIN_HTTP_REFUSED } from '../http/plain-on-tls-port.js'
import { answerBytes, errorAnswer } from './answer.js'

/** Why CONNECT is refused, on either data plane. */
export const CONNECT_REFUSED = 'CONNECT is not served here: nothing is tunnelled but an upgrade a service answers with 101.'

/**
 * What Node's HTTP parser refuses, and CONNECT, answered in the one error shape
 * ({"error":{"code","status","message"}}) rather than Node's bare status line, or (for CONNECT)
 * a connection closed without a word. The connection is closed once the answer is written: a
 * client still sending (headers trickling in past the timeout) is not waited for.
 */
export function answerRefusedRequests(server: Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    const underway = (socket as Duplex & { _httpMessage?: ServerResponse })._httpMessage
    if (err.code === 'ECONNRESET' || !socket.writable) return void socket.destroy()
    // Bytes the parser refused after a whole request (`Connection: close` and more, a pipelined
    // request that is malformed): that request is still answered, as nginx does, and then the
    // connection ends; nothing more on it is read.
    if (underway?.req.complete) return answerThenClose(underway, socket)
    if (underway && !bodyOfUnanswered(underway)) return void socket.destroy()
    const [status, message] = clientErrorAnswer(err.code, underway !== undefined)
    answerAndClose(socket, answerBytes(errorAnswer(status, message, undefined)))
  })
  // An Expect other than 100-continue (RFC 9110 §10.1.1 lets a server refuse it): Node's own
  // answer is a bare 417; this one says what is understood, and no body is waited for.
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
    const answer = errorAnswer('EXPECTATION_FAILED', `Expect: ${String(req.headers.expect).slice(0, 100)} is not understood; only Expect: 100-continue is.`, req.headers.accept)
    res.writeHead(answer.status, { ...answer.headers, 'content-length': Buffer.byteLength(answer.body), connection: 'close' }).end(answer.body)
  })
  const refusal = answerBytes(errorAnswer('METHOD_NOT_ALLOWED', CONNECT_REFUSED, undefined))
  server.on('connect', inTurn((_req, socket) => answerAndClose(socket, refusal)))
}

/** `listener`, with an HTTP/0.9 request (http09.ts) refused in the one error shape before it sees it. */
export function refusingHttp09(listener: RequestListener): RequestListener {
  return (req, res) => {
    if (!isHttp09(req)) return listener(req, res)
    const answer = errorAnswer('INVALID_ARGUMENT', HTTP09_REFUSED, req.headers.accept)
    res.writeHead(answer.status, { ...answer.headers, 'content-length': Buffer.byteLength(answer.body), connection: 'close' }).end(answer.body)
    req.resume()
  }
}

/** How long a plain HTTP connection to a TLS port is given to send the request its answer is for. */
const PLAIN_HTTP_DEADLINE_MS = 10_000

/**
 * What answers plain HTTP sent to a TLS port (plain-on-tls-port.ts): an HTTP/1.1 server of its
 * own that never listens, given each such connection. It answers every request 400 in the one
 * error shape (a page for a browser) and closes, and what its parser refuses as every plane does.
 * It never listens, so Node's header timeout is not checked for it: a deadline of its own ends
 * a connection that has not been answered and closed by then.
 */
export function plainHttpRefuser(): (socket: Socket) => void {
  const server = createServer({ requireHostHeader: false }, (req, res) => {
    const answer = errorAnswer('INVALID_ARGUMENT', PLAIN_HTTP_REFUSED, req.headers.accept)
    res.writeHead(answer.status, { ...answer.headers, 'content-length': Buffer.byteLength(answer.body), connection: 'close' }).end(answer.body)
    req.resume()
  })
  answerRefusedRequests(server)
  return (socket) => {
    const deadline = setTimeout(() => socket.destroy(), PLAIN_HTTP_DEADLINE_MS)
    deadline.unref()
    socket.once('close', () => clearTimeout(deadline))
    server.emit('connection', socket)
    socket.resume()
  }
}

/**
 * Whether the parser failed inside the body of the request this response is for, while nothing of
 * the response has been sent: it is answered then (the request is what was malformed), as nginx
 * does. Otherwise the error belongs to a pipelined request behind it, or the answer has begun;
 * interleaving either would corrupt what the client reads, so the connection just ends.
 */
function bodyOfUnanswered(res: ServerResponse): boolean {
  return !res.headersSent && !res.req.complete
}

function clientErrorAnswer(code: string | undefined, inBody: boolean): [ErrorStatus, string] {
  if (code === 'HPE_HEADER_OVERFLOW') return ['REQUEST_HEADER_FIELDS_TOO_LARGE', 'The request headers are too large.']
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return ['REQUEST_TIMEOUT', 'The request did not arrive in time.']
  // Once the headers are read, what the parser can still refuse is the chunked framing.
  return ['INVALID_ARGUMENT', inBody ? 'The request body is malformed (its chunked encoding is broken).' : 'The request is malformed.']
}

function answerThenClose(res: ServerResponse, socket: Duplex): void {
  socket.pause()
  if (!res.headersSent) res.shouldKeepAlive = false
  res.once('finish', () => socket.end())
  res.once('close', () => socket.destroy())
}

function answerAndClose(socket: Duplex, bytes: string): void {
  socket.end(bytes, () => socket.destroy())
}
