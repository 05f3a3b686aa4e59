import { randomUUID } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import type { Clock } from '../core/clock.js'
import type { Logger } from '../core/log.js'
import type { AssertionMinter } from './assertions.js'
import type { GatewayAuthenticator, Caller } from './authenticate.js'
import type { InvokeAuthorizer } from './authorize.js'
import type { DenialLog } from './denial-log.js'
import { extractToken, type TokenHeader } from './extract-token.js'
import type { Upstreams } from './forward.js'
import { upstreamHeaders } from './headers.js'
import { checkRequestShape } from './request-shape.js'
import { CHALLENGE, invalidTokenChallenge, sendGatewayError } from './responses.js'
import type { Route, RouteTable } from './routes.js'
import { forwardUpgrade, rejectUpgrade } from './websocket.js'

export interface GatewayDeps {
  routes: RouteTable
  authenticator: GatewayAuthenticator
  authorizer: InvokeAuthorizer
  assertions: AssertionMinter
  upstreams: Upstreams
  denials: DenialLog
  clock: Clock
  proto: 'http' | 'https'
  log: Logger
}

/** The verdict on one request, DESIGN §4 steps 1–5; the same for plain requests and WebSocket upgrades. */
type Admission =
  | { ok: true; route: Route; nominated: Set<string>; caller?: Caller; tokenHeader?: TokenHeader }
  | { ok: false; status: Parameters<typeof sendGatewayError>[2]; message: string; headers?: Record<string, string> }

export function createGateway(deps: GatewayDeps) {
  function admit(req: IncomingMessage): Admission {
    const shape = checkRequestShape(req)
    // A request whose framing or headers are suspect ends its connection: nothing more is read from it.
    if ('problem' in shape) return { ok: false, ...shape.problem, headers: { connection: 'close' } }
    const found = deps.routes.lookup(req.headers.host)
    if ('error' in found) {
      return found.error === 'bad-host'
        ? { ok: false, status: 'INVALID_ARGUMENT', message: 'The Host header is not a valid host name.', headers: { connection: 'close' } }
        : { ok: false, status: 'NOT_FOUND', message: `No service answers at ${String(req.headers.host).slice(0, 253)}.` }
    }
    const route = found.route
    const now = deps.clock()
    if (route.service.invokerIamDisabled || deps.authorizer.isPublic(route, now)) return { ok: true, route, nominated: shape.nominated }
    const extracted = extractToken(req.rawHeaders)
    if (extracted.kind === 'missing') {
      return { ok: false, status: 'UNAUTHENTICATED', message: `Authentication required: send an ID token (Authorization: Bearer $(postern auth print-identity-token)) to ${route.uri}.`, headers: { 'www-authenticate': CHALLENGE } }
    }
    if (extracted.kind === 'invalid') return unauthenticated(extracted.description)
    const auth = deps.authenticator.authenticate(extracted.token, route, now)
    if (!auth.ok) return unauthenticated(auth.description)
    const decision = deps.authorizer.authorize(auth.caller.principal, auth.caller.key, route, now)
    if (!decision.allow) {
      deps.denials.record({ time: now, principal: auth.caller.member, method: 'routes.invoke', resource: route.resource, outcome: 'PERMISSION_DENIED', details: { reason: decision.reason, path: (req.url ?? '').slice(0, 200) } })
      return { ok: false, status: 'PERMISSION_DENIED', message: deniedMessage(auth.caller.member, route) }
    }
    return { ok: true, route, nominated: shape.nominated, caller: auth.caller, tokenHeader: extracted.header }
  }

  async function headersFor(req: IncomingMessage, a: Extract<Admission, { ok: true }>, requestId: string): Promise<string[]> {
    const identity = a.caller && a.tokenHeader
      ? { tokenHeader: a.tokenHeader, principal: a.caller.member, email: a.caller.email, assertion: await deps.assertions.assertion(a.caller, a.route, deps.clock()) }
      : undefined
    return upstreamHeaders(req.rawHeaders, a.nominated, {
      host: req.headers.host!,
      clientIp: req.socket.remoteAddress ?? '',
      proto: deps.proto,
      requestId,
      identity,
    })
  }

  return {
    request(req: IncomingMessage, res: ServerResponse): void {
      let admission: Admission
      try {
        admission = admit(req)
      } catch (err) {
        deps.log.log('error', 'gateway failed', { err: String(err), stack: (err as Error).stack })
        sendGatewayError(res, req.headers.accept, 'INTERNAL', 'Internal error.')
        return
      }
      if (!admission.ok) {
        sendGatewayError(res, req.headers.accept, admission.status, admission.message, admission.headers)
        req.resume()
        return
      }
      const requestId = validRequestId(req.headers['x-request-id']) ?? randomUUID()
      const ok = admission
      headersFor(req, ok, requestId).then(
        (headers) => deps.upstreams.forward(req, res, ok.route, headers),
        (err) => {
          deps.log.log('error', 'gateway failed', { err: String(err) })
          sendGatewayError(res, req.headers.accept, 'INTERNAL', 'Internal error.')
        },
      )
    },

    upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
      let admission: Admission
      try {
        admission = admit(req)
      } catch (err) {
        deps.log.log('error', 'gateway upgrade failed', { err: String(err) })
        rejectUpgrade(socket, 'INTERNAL', 'Internal error.')
        return
      }
      if (!admission.ok) {
        rejectUpgrade(socket, admission.status, admission.message, admission.headers)
        return
      }
      const ok = admission
      headersFor(req, ok, validRequestId(req.headers['x-request-id']) ?? randomUUID()).then(
        (headers) => forwardUpgrade(req, socket, head, ok.route, headers, deps.log),
        () => rejectUpgrade(socket, 'INTERNAL', 'Internal error.'),
      )
    },
  }
}

function unauthenticated(description: string): Admission {
  return { ok: false, status: 'UNAUTHENTICATED', message: `Invalid ID token: ${description}`, headers: { 'www-authenticate': invalidTokenChallenge(description) } }
}

/** DESIGN §4 step 5: who lacked which permission where, and what an admin would run. */
export function deniedMessage(member: string, route: Route): string {
  const { projectId, serviceId } = route.service
  return `Permission 'run.routes.invoke' denied for ${member} on ${route.resource}; an admin can run: postern services add-iam-policy-binding ${serviceId} --project=${projectId} --member='${member}' --role='roles/run.invoker'`
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/
function validRequestId(value: string | string[] | undefined): string | undefined {
  return typeof value === 'string' && REQUEST_ID.test(value) ? value : undefined
}
