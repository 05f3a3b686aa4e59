import { createRequire } from 'node:module'
import { Duplex } from 'node:stream'

interface H1Parser {
  onHeadersComplete(statusCode: number, upgrade: boolean, shouldKeepAlive: boolean): number
  onMessageComplete(): number
  onHeaderField(buf: Buffer): number
  /** At a message's end: its trailers, names and values in turn. */
  headers: Buffer[]
  finish(): unknown
  execute(data: Buffer): void
  destroy(): void
  paused: boolean
  ptr: number | null
  socket: Duplex
  llhttp: { llhttp_resume(ptr: number): void; llhttp_get_status_code(ptr: number): number; llhttp_set_lenient_chunked_length(ptr: number, enabled: number): void }
}

/** A status below 200 that no handler tells from 100: they all pass over interim answers. */
const INTERIM = 199
const EMPTY = Buffer.alloc(0)
let done = false

/**
 * Where Postern mends undici's HTTP/1.1 parser, for the gateway and `postern services proxy`
 * alike. The parser is not exported: it is reached once, through a connection set up on a socket
 * that goes nowhere, and its prototype is mended in two places (below). Should undici's insides
 * move, Postern still starts, with a warning, and the tests named below fail. Idempotent.
 */
export function mendUndiciParser(): void {
  if (done) return
  done = true
  try {
    const proto = parserPrototype()
    readPastUnaskedContinue(proto)
    finishWhenPaused(proto)
    closeOnClosingTrailers(proto)
    bodilessWhateverTheirFraming(proto)
  } catch (err) {
    process.emitWarning(`Postern could not mend undici's HTTP/1.1 parser (an unasked 100 Continue gets 502, so does a 204 or 304 with both Transfer-Encoding and Content-Length; an upstream closing an answer its caller reads slowly can end the process): ${(err as Error).message}`)
  }
}

function parserPrototype(): H1Parser {
  const require = createRequire(import.meta.url)
  const connectH1 = require('undici/lib/dispatcher/client-h1.js') as (client: object, socket: Duplex) => unknown
  const { kParser } = require('undici/lib/core/symbols.js') as { kParser: symbol }
  const socket = new Duplex({ read: () => undefined, write: (_chunk, _encoding, callback) => callback() })
  connectH1({}, socket)
  const parser = (socket as unknown as Record<symbol, H1Parser | undefined>)[kParser]
  const proto = parser && (Object.getPrototypeOf(parser) as H1Parser)
  if (!parser || !proto || typeof proto.onHeadersComplete !== 'function' || typeof proto.finish !== 'function') throw new Error('undici’s HTTP/1.1 parser is not where Postern expects it: see src/http/undici-parser.ts')
  socket.removeAllListeners()
  parser.destroy()
  return proto
}

/**
 * Read past a `100 Continue` the request did not ask for, as undici reads past every other
 * interim answer (1xx). undici never sends `Expect`, so it closes the connection on any 100
 * ("bad response", its issue #201), and the caller would get a 502 for an answer that was fine;
 * yet servers send one unasked (some Java and WSGI servers, to every request with a body), and
 * RFC 9110 §15.2 has every client, proxies included, read past one or more 1xx of any kind.
 * Test: test/e2e/gateway-forwarding.test.ts.
 */
function readPastUnaskedContinue(proto: H1Parser): void {
  const onHeadersComplete = proto.onHeadersComplete
  proto.onHeadersComplete = function (this: H1Parser, statusCode, upgrade, shouldKeepAlive) {
    return onHeadersComplete.call(this, statusCode === 100 ? INTERIM : statusCode, upgrade, shouldKeepAlive)
  }
}

/**
 * An answer whose end is the upstream closing its connection, while its caller reads slowly:
 * the parser is paused for backpressure when the close arrives, and undici 7's `finish` asserts
 * it is not, from the socket's 'end' handler, where nothing can catch it: any upstream could end
 * the whole process (found by test/e2e/upstream-answer-fuzz.test.ts; undici's issue #5360, mended
 * in undici 8, which needs Node 22). As undici 8 does, the parser is resumed and what the socket
 * still holds is parsed before the end is: the caller's backpressure is advisory here, since what
 * is read goes into the caller's write buffer, and an answer ends only once.
 * Test: test/e2e/upstream-answers-at-odds.test.ts.
 */
function finishWhenPaused(proto: H1Parser): void {
  const finish = proto.finish
  proto.finish = function (this: H1Parser) {
    if (this.paused && this.ptr != null) {
      let data: Buffer
      do {
        this.llhttp.llhttp_resume(this.ptr)
        this.paused = false
        data = (this.socket.read() as Buffer | null) ?? EMPTY
        this.execute(data)
      } while (this.paused && data.length > 0 && this.ptr != null)
      if (this.paused && this.ptr != null) {
        this.llhttp.llhttp_resume(this.ptr)
        this.paused = false
      }
    }
    return finish.call(this)
  }
}

/**
 * An answer whose chunked trailers say `Connection: close`: its parser (llhttp) takes the
 * connection as closing, but undici decided to keep it from the head, and sends the next request
 * on it; the upstream handles that request, and its answer is refused as "data after connection:
 * close" — the caller gets a 502 for a request that was carried out (a POST sent again by a
 * retrying client would be carried out twice). The connection is closed with the answer instead,
 * as the trailer asked, and the next request goes on a new one.
 * Test: test/e2e/gateway-forwarding.test.ts.
 */
function closeOnClosingTrailers(proto: H1Parser): void {
  const onMessageComplete = proto.onMessageComplete
  proto.onMessageComplete = function (this: H1Parser) {
    const closing = saysClose(this.headers)
    const rc = onMessageComplete.call(this)
    // 0: undici keeps the connection (otherwise it has ended it already).
    if (closing && rc === 0 && !this.socket.destroyed) this.socket.destroy()
    return rc
  }
}

function saysClose(trailers: readonly Buffer[] | undefined): boolean {
  if (!trailers) return false
  for (let i = 0; i + 1 < trailers.length; i += 2) {
    if (trailers[i]!.length === 10 && trailers[i]!.toString('latin1').toLowerCase() === 'connection' && /(?:^|,)\s*close\s*(?:,|$)/i.test(trailers[i + 1]!.toString('latin1'))) return true
  }
  return false
}

/**
 * A 204 or a 304 with both a Transfer-Encoding and a Content-Length is relayed as what it is, an
 * answer without a body (RFC 9110 §6.4.1: whatever its header fields say), as the nginx data plane
 * relays it. llhttp refuses the pair in any answer ("Content-Length can't be present with
 * Transfer-Encoding", RFC 9112 §6.2), which is right where the two would disagree on where a body
 * ends, and the caller got a 502 for an answer with no body to frame. So for these two statuses
 * alone the parser is let take the pair (its lenient "chunked length"), at the answer's first
 * header field, when its status is known and before either field is read; every other answer is
 * held to the rule. (The relayed head drops Content-Length: gateway/headers.ts answerHeaders.)
 * Test: test/e2e/upstream-answers-at-odds.test.ts.
 */
function bodilessWhateverTheirFraming(proto: H1Parser): void {
  const onHeaderField = proto.onHeaderField
  proto.onHeaderField = function (this: H1Parser, buf) {
    // (The first field of a head: undici empties its list when a head ends. Trailers set it again, to the same.)
    if (this.headers.length === 0 && this.ptr != null) {
      const status = this.llhttp.llhttp_get_status_code(this.ptr)
      this.llhttp.llhttp_set_lenient_chunked_length(this.ptr, status === 204 || status === 304 ? 1 : 0)
    }
    return onHeaderField.call(this, buf)
  }
}
