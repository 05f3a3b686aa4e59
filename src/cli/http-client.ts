import { CliError } from './errors.js'
import { untrustedCertificateMessage } from './untrusted-certificate.js'


/** The request never got an answer: the connection failed or was closed under it. */
export class TransportError extends CliError {
  constructor(
    message: string,
    /** Whether the connection broke in a way a retry on a fresh one can mend. */
    readonly transient: boolean,
  ) {
    super(message, 1, 'UNAVAILABLE')
  }
}

/**
 * A keep-alive connection the server closed just as the client reused it ("other side closed"),
 * or one reset under load: the server may never have seen the request, and a new connection
 * usually works. A refused connection means no server is listening, which a retry will not mend.
 */
const TRANSIENT = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE', 'UND_ERR_CLOSED'])

/**
 * How long a request may go unanswered (gcloud's core/http_timeout): a server that accepts and
 * never answers — a wrong port, a stuck proxy — would otherwise hold the command for ever. Long
 * enough for the longest call the CLI makes (an access request's wait, 30 s at most a call).
 */
function answerSeconds(): number {
  const given = Number(process.env.POSTERN_HTTP_TIMEOUT)
  return Number.isFinite(given) && given > 0 ? given : 60
}

/**
 * Node's built-in fetch with a clear message when the server is not there. (The npm undici is
 * not loaded here: every CLI command starts a process, and its import alone costs ~100 ms.)
 */
export async function request(url: string, init: RequestInit = {}): Promise<Response> {
  try {
    return await fetch(url, { ...init, signal: init.signal ?? AbortSignal.timeout(answerSeconds() * 1000) })
  } catch (err) {
    if ((err as Error).name === 'TimeoutError') {
      throw new TransportError(`${new URL(url).origin} did not answer within ${answerSeconds()} s. Is it the Postern server? (postern config set server URL; POSTERN_HTTP_TIMEOUT=SECONDS waits longer)`, false)
    }
    const cause = (err as { cause?: { code?: string } }).cause
    if (cause?.code === 'ERR_SSL_WRONG_VERSION_NUMBER' || cause?.code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG') {
      throw new TransportError(`${new URL(url).origin} does not speak TLS: it is plain HTTP. Use http://${new URL(url).host} (postern config set server URL).`, false)
    }
    if (cause?.code === 'ECONNREFUSED') throw new TransportError(`Cannot reach the Postern server at ${new URL(url).origin}: connection refused. Is 'postern serve' running? (postern config set server URL)`, false)
    const untrusted = untrustedCertificateMessage(new URL(url).origin, cause?.code, (cause as Error | undefined)?.message ?? '')
    if (untrusted) throw new TransportError(untrusted, false)
    throw new TransportError(`Cannot reach ${new URL(url).origin}: ${(cause as Error | undefined)?.message ?? (err as Error).message}`, TRANSIENT.has(cause?.code ?? ''))
  }
}

/**
 * The same, trying again on a transient transport error with a jittered, growing pause — for
 * requests that are safe to send twice only (reads, and writes guarded by an etag, which the
 * server refuses as ABORTED if the first one did land).
 */
export async function requestSafely(url: string, init: RequestInit, attempts = 4, pause = (ms: number) => new Promise((r) => setTimeout(r, ms))): Promise<Response> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await request(url, init)
    } catch (err) {
      if (!(err instanceof TransportError) || !err.transient || attempt >= attempts) throw err
      await pause(50 * 4 ** (attempt - 1) * (0.5 + Math.random()))
    }
  }
}
