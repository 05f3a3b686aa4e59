import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import type { ErrorStatus } from '../core/errors.js'
import type { Logger } from '../core/log.js'
import { proxyUpgrade } from '../http/splice.js'
import { answerBytes, errorAnswer, refusalAnswer, type Refusal } from './answer.js'
import { answerHeaders, privateToSharedCaches } from './headers.js'
import type { Route } from './routes.js'

/** What a switching response keeps of its hop-by-hop headers: the handshake itself. */
const SWITCHING = new Set(['connection', 'upgrade'])

/**
 * WebSocket (and other) upgrades after the same checks as any request (DESIGN §4 step 6): the
 * handshake goes to the upstream with the same header hygiene; bytes flow both ways once the
 * upstream answers 101, until either side closes or `spliced`'s close is called because the
 * caller lost access. A token that expires later does not cut an open socket (as for any
 * proxied stream); losing the account or the grant does.
 */
export function forwardUpgrade(
  req: IncomingMessage,
  client: Duplex,
  head: Buffer,
  route: Route,
  headers: string[],
  log: Logger,
  hooks: { spliced: (close: () => void) => void; closed: () => void },
  /** An answer other than 101 is kept from shared caches (HEADER_RULES.cacheDecided): the caller was admitted. */
  privately: boolean,
): void {
  const origin = new URL(route.upstream.origin)
  proxyUpgrade(
    client,
    head,
    {
      origin,
      method: req.method ?? 'GET',
      path: route.upstream.basePath + (req.url ?? '/'),
      headers: ['host', origin.host, 'connection', 'Upgrade', 'upgrade', String(req.headers.upgrade), ...headers],
      timeoutMs: route.service.timeoutSeconds * 1000,
    },
    {
      responseHeaders: (raw, status) => {
        if (status === 101) return answerHeaders(status, raw, route.redirects, SWITCHING)
        return privately ? privateToSharedCaches(answerHeaders(status, raw, route.redirects)) : answerHeaders(status, raw, route.redirects)
      },
      unreachable: (err, timedOut) => {
        log.log('warn', 'websocket upstream failed', { service: route.resource, err: err.message })
        if (timedOut) rejectUpgrade(client, 'DEADLINE_EXCEEDED', `The upstream of ${route.resource} did not answer within ${route.service.timeoutSeconds} s.`)
        else rejectUpgrade(client, 'BAD_GATEWAY', `The upstream of ${route.resource} is unreachable.`)
      },
      spliced: hooks.spliced,
      closed: hooks.closed,
    },
  )
}

export function rejectUpgrade(socket: Duplex, status: ErrorStatus, message: string, headers: Record<string, string> = {}, accept?: string): void {
  socket.end(answerBytes(errorAnswer(status, message, accept, headers)))
}

/** A refused upgrade gets the answer any refused request gets, on its raw socket, which then closes. */
export function refuseUpgrade(socket: Duplex, refusal: Refusal, accept: string | undefined): void {
  socket.end(answerBytes(refusalAnswer(refusal, accept)))
}
