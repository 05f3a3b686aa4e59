/**
 * Whether a request whose connection failed before any answer began may be sent once more, on
 * a connection of its own. This is the race of a server closing an idle keep-alive connection
 * just as its client reuses it: Node closes them after 5 s, uvicorn after 5 s, gunicorn after
 * 2 s, so under light traffic a request now and then meets a connection already closing.
 * Browsers and Go's client send such a request again; so does nginx, and its rule is the one used
 * here (by the Node gateway and by `postern services proxy`) so that both data planes agree: a
 * request without a body, in any method but POST, PATCH and LOCK (those nginx never sends twice
 * unless told `non_idempotent`).
 *
 * Only failures of a connection that was made count: one refused, timed out or never resolved
 * is answered at once.
 */
export function mayResend(method: string, hasBody: boolean, err: Error): boolean {
  if (hasBody || NEVER_RESENT.has(method)) return false
  const code = (err as { code?: unknown }).code
  return typeof code === 'string' && CONNECTION_LOST.has(code)
}

const NEVER_RESENT = new Set(['POST', 'PATCH', 'LOCK'])

/** The connection closed (undici's SocketError), was reset, or could not be written to. */
const CONNECTION_LOST = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE'])
