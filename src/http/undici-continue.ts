import { createRequire } from 'node:module'
import { Duplex } from 'node:stream'

interface H1Parser {
  onHeadersComplete(statusCode: number, upgrade: boolean, shouldKeepAlive: boolean): number
  destroy(): void
}

/** A status below 200 that no handler tells from 100: they all pass over interim answers. */
const INTERIM = 199
let done = false

/**
 * Has undici read past a `100 Continue` its request did not ask for, as it reads past every
 * other interim answer (1xx). undici never sends `Expect`, so it closes the connection on any 100
 * ("bad response", its issue #201), and the caller would get a 502 for an answer that was fine;
 * yet servers send one unasked (some Java and WSGI servers, to every request with a body), and
 * RFC 9110 §15.2 has every client, proxies included, read past one or more 1xx of any kind.
 *
 * undici's HTTP/1.1 parser is not exported: it is reached once, through a connection set up on a
 * socket that goes nowhere, and its prototype told to report a 100 as another interim status.
 * Should undici's insides move, Postern still starts, with a warning (an unasked 100 is then a
 * 502 again), and test/e2e/gateway-forwarding.test.ts fails. Idempotent.
 */
export function readPastUnaskedContinue(): void {
  if (done) return
  done = true
  try {
    patchParser()
  } catch (err) {
    process.emitWarning(`Postern could not have undici read past a 100 Continue its upstream sends unasked (such answers get 502): ${(err as Error).message}`)
  }
}

function patchParser(): void {
  const require = createRequire(import.meta.url)
  const connectH1 = require('undici/lib/dispatcher/client-h1.js') as (client: object, socket: Duplex) => unknown
  const { kParser } = require('undici/lib/core/symbols.js') as { kParser: symbol }
  const socket = new Duplex({ read: () => undefined, write: (_chunk, _encoding, callback) => callback() })
  connectH1({}, socket)
  const parser = (socket as unknown as Record<symbol, H1Parser | undefined>)[kParser]
  const proto = parser && (Object.getPrototypeOf(parser) as H1Parser)
  if (!parser || !proto || typeof proto.onHeadersComplete !== 'function') throw new Error('undici’s HTTP/1.1 parser is not where Postern expects it: see src/http/undici-continue.ts')
  socket.removeAllListeners()
  parser.destroy()
  const onHeadersComplete = proto.onHeadersComplete
  proto.onHeadersComplete = function (this: H1Parser, statusCode, upgrade, shouldKeepAlive) {
    return onHeadersComplete.call(this, statusCode === 100 ? INTERIM : statusCode, upgrade, shouldKeepAlive)
  }
}
