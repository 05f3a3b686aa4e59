import type { IncomingMessage } from 'node:http'

/**
 * A request line without a version. Node's parser takes it for HTTP/0.9, yet still reads headers
 * after it, with any method, and hands it on as a request like any other; with the method PRI it
 * then destroys the socket before any answer given later than the request's own turn (the control
 * plane's `PRI /healthz` got a connection closed without a word). HTTP/0.9 has no headers, and
 * nginx refuses it (400): so does every Postern listener, at once.
 */
export const HTTP09_REFUSED = 'The request line names no HTTP version: HTTP/0.9 is not served.'

export const isHttp09 = (req: IncomingMessage): boolean => req.httpVersionMajor !== 1
