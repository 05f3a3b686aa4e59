import { randomUUID } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import type { Clock } from '../core/clock.js'
import type { ErrorStatus } from '../core/errors.js'
import type { Logger } from '../core/log.js'
import type { TrustedProxies } from '../http/client-address.js'
import type { Freshness } from '../observability/health.js'
import type { Metrics, Verdict } from '../observability/metrics.js'
import { refusalAnswer, sendAnswer, type Answer } from './answer.js'
import type { AssertionMinter } from './assertions.js'
import type { Authentication, Caller, GatewayAuthenticator } from './authenticate.js'
import type { BrowserFlow, BrowserIdentity, Refusal } from './browser/browser-flow.js'
import type { BrowserSessions } from './browser/browser-sessions.js'
import { posternEndpoint } from '../http/postern-paths.js'
import type { Decision } from '../iam/decide.js'
import type { InvokeAuthorizer } from './authorize.js'
import type { DenialLog } from './denial-log.js'
import { extractToken, repeatedHeaderMessage, type TokenHeader } from './extract-token.js'
import type { Upstreams } from './forward.js'
import { clientAddressChain, upstreamHeaders } from './headers.js'
import { upgradesToH2c } from '../http/h2c-upgrade.js'
import { checkRequestShape } from './request-shape.js'
import { CHALLENGE, invalidRequestChallenge, invalidTokenChallenge, sendGatewayError } from './responses.js'
import type { Route, RouteTable } from './routes.js'
import { OpenTunnels, type TunnelGrant } from './tunnels.js'
import { forwardUpgrade, refuseUpgrade, rejectUpgrade } from './websocket.js'
import { lingerOnClose } from '../http/linger.js'
import { loggedTarget } from '../http/logged-target.js'

export interface GatewayDeps {
  routes: RouteTable
  authenticator: GatewayAuthenticator
  authorizer: InvokeAuthorizer
  assertions: AssertionMinter
  upstreams: Upstreams
  denials: DenialLog
  metrics: Metrics
  freshness: Freshness
  clock: Clock
  proto: 'http' | 'https'
  /** Proxies in front whose X-Forwarded-For names the client (`--trusted-proxies`). */
  trustedProxies: TrustedProxies
  /** This Postern's issuer: any token it issued loses its signature on the way upstream. */
  issuer: string
  log: Logger
  /** Requests to a host that is no service: health, readiness, metrics, forward-auth. */
  internal: (req: IncomingMessage, res: ServerResponse) => boolean
  /** Log every request (JSON, with its request id); without it only failures (5xx) are logged. */
  accessLog: boolean
  /** Browsers as callers: sign-in redirects, the callback, session cookies (browser/). */
  browser: BrowserFlow
  browserSessions: BrowserSessions
}

/** What a request looks like to the decision: its own, or the one a forward-auth call describes. */
export interface RequestView {
  method: string
  host: string | undefined
  rawHeaders: readonly string[]
  /** The request target in origin-form: path and query. */
  path: string
}

/**
 * The verdict on one request, DESIGN §4 steps 1–5, the same for requests, upgrades and
 * forward-auth. A caller is admitted by a token (`tokenHeader`) or by a browser session cookie
 * (`session`, the service session's hash). A refusal with an `answer` is sent as that answer (a
 * redirect to sign in, a page) instead of the error in the one shape. `conditional`: the caller
 * was allowed by a binding with a condition, so the same request may be refused later with
 * nothing changed but the clock.
 */
export type Access =
  | { ok: true; route: Route; caller?: Caller; tokenHeader?: TokenHeader; session?: string; verdict: 'allowed' | 'public'; conditional?: true }
  | { ok: false; route?: Route; status: ErrorStatus; message: string; headers?: Record<string, string>; verdict: Verdict; unknownHost?: boolean; answer?: Answer; framingInDoubt?: true }

export function createGateway(deps: GatewayDeps) {
  /** An open tunnel's grant, decided again (DESIGN §4 steps 1, 2, 4 without the signature, 5). */
  function stillAllowed(grant: TunnelGrant): boolean | Promise<boolean> {
    const found = deps.routes.lookup(grant.host)
    if ('error' in found || found.route.service.uid !== grant.serviceUid) return false
    const route = found.route
    const now = deps.clock()
    // A view too old to decide from (--max-staleness) keeps no tunnel open either: a grant
    // removed meanwhile elsewhere would go unseen.
    if (deps.freshness.stale(now)) return false
    if (route.service.invokerIamDisabled || deps.authorizer.isPublic(route, now)) return true
    const allows = (auth: { ok: true; caller: Caller } | { ok: false }) => auth.ok && deps.authorizer.authorize(auth.caller.principal, auth.caller.key, route, now).allow
    // Opened by a browser: its session must still be live (a sign-out anywhere ends it) and the service still admit browsers.
    if (grant.session) {
      if (!route.service.browserAccess) return false
      const checked = deps.browserSessions.checkHash(grant.session, route.service.uid, now)
      return checked instanceof Promise ? checked.then(allows) : allows(checked)
    }
    // Opened while the service was public: no caller was ever proven.
    if (!grant.claims) return false
    const admitted = deps.authenticator.admit(grant.claims, route)
    return admitted instanceof Promise ? admitted.then(allows) : allows(admitted)
  }
  const tunnels = new OpenTunnels(stillAllowed)

  function decideAccess(view: RequestView): Access | Promise<Access> {
    // A repeated token header is refused before anything else, on every host, public services
    // too: nginx refuses a repeated Authorization itself before it routes, and the planes agree.
    const extracted = extractToken(view.rawHeaders)
    if (extracted.kind === 'repeated') {
      const message = repeatedHeaderMessage(extracted.header)
      return { ok: false, status: 'INVALID_ARGUMENT', message, headers: { 'www-authenticate': invalidRequestChallenge(message), connection: 'close' }, verdict: 'bad_request' }
    }
    const found = deps.routes.lookup(view.host)
    const now = deps.clock()
    if ('error' in found) {
      if (found.error === 'bad-host') return { ok: false, status: 'INVALID_ARGUMENT', message: 'The Host header is not a valid host name.', headers: { connection: 'close' }, verdict: 'bad_request' }
      // A view not trusted (a database being restored, one out of reach too long) may lack a
      // service that exists: it cannot say there is none, and a 404 would tell callers (and
      // caches) that a real service is gone. Still an unknown host: health, readiness and
      // forward-auth are answered on it as ever.
      if (deps.freshness.stale(now)) return { ...UNAVAILABLE, unknownHost: true }
      return { ok: false, status: 'NOT_FOUND', message: `No service answers at ${String(view.host).slice(0, 253)}.`, verdict: 'not_found', unknownHost: true }
    }
    const route = found.route
    // Past the bound on staleness nothing is decided from memory (fail closed, as --max-staleness promises).
    if (deps.freshness.stale(now)) return { ...UNAVAILABLE, route }
    // Postern's own paths on every service's host are answered here and never forwarded.
    const endpoint = posternEndpoint(view.path)
    if (endpoint) return deps.browser.endpoint(endpoint, route, browserRequest(view), now).then((r) => refused(route, r))
    if (route.service.invokerIamDisabled || deps.authorizer.isPublic(route, now)) return { ok: true, route, verdict: 'public' }
    if (extracted.kind === 'missing') {
      // No token: a browser is admitted by its session cookie, or sent to sign in.
      if (route.service.browserAccess) {
        const who = deps.browser.identify(route, browserRequest(view), now)
        return who instanceof Promise ? who.then((w) => authorizedBrowser(w, route, view)) : authorizedBrowser(who, route, view)
      }
      return {
        ok: false,
        route,
        status: 'UNAUTHENTICATED',
        message: `Authentication required: send an ID token (Authorization: Bearer $(postern auth print-identity-token)) to ${route.uri}.`,
        headers: { 'www-authenticate': CHALLENGE },
        verdict: 'unauthenticated',
      }
    }
    if (extracted.kind === 'invalid') return unauthenticated(route, extracted.description, extracted.scheme === 'other' ? CHALLENGE : undefined)
    const auth = deps.authenticator.authenticate(extracted.token, route, now)
    // A token seen before is decided synchronously; a new one waits for its signature check.
    return auth instanceof Promise ? auth.then((a) => authorized(a, route, extracted.header, view)) : authorized(auth, route, extracted.header, view)
  }

  /** DESIGN §4 step 5, once the caller is known: the decision when allowed, else the refusal (the denial audited). */
  function judged(caller: Caller, route: Route, view: RequestView, via?: 'browser'): Extract<Access, { ok: false }> | Decision {
    const now = deps.clock()
    const decision = deps.authorizer.authorize(caller.principal, caller.key, route, now)
    if (decision.allow) return decision
    deps.denials.record({ time: now, principal: caller.member, method: 'routes.invoke', resource: route.resource, outcome: 'PERMISSION_DENIED', details: { reason: decision.reason, path: view.path.slice(0, 200), ...(via && { via }) } })
    return { ok: false, route, status: 'PERMISSION_DENIED', message: deniedMessage(caller.member, route, deps.authorizer.holdsConditions(route)), verdict: 'denied' }
  }

  function authorized(auth: Authentication, route: Route, tokenHeader: TokenHeader, view: RequestView): Access {
    if (!auth.ok) return unauthenticated(route, auth.description)
    const judgement = judged(auth.caller, route, view)
    if ('ok' in judgement) return judgement
    const allowed = { ok: true, route, caller: auth.caller, tokenHeader, verdict: 'allowed' } as const
    return judgement.grantedBy?.condition ? { ...allowed, conditional: true } : allowed
  }

  /** As authorized, for a browser admitted by its session cookie; a person opening the service is shown who they are and how to ask for access. */
  function authorizedBrowser(who: BrowserIdentity, route: Route, view: RequestView): Access {
    if (!who.ok) return refused(route, who)
    const judgement = judged(who.caller, route, view, 'browser')
    if ('ok' in judgement) return { ...judgement, answer: deps.browser.deniedAnswer(who.caller, route, browserRequest(view)) }
    const allowed = { ok: true, route, caller: who.caller, session: who.sessionHash, verdict: 'allowed' } as const
    return judgement.grantedBy?.condition ? { ...allowed, conditional: true } : allowed
  }

  type Identity = { tokenHeader?: TokenHeader; principal: string; email: string; assertion: string }

  const identityWith = (access: Extract<Access, { ok: true }>, assertion: string): Identity => ({
    tokenHeader: access.tokenHeader,
    principal: access.caller!.member,
    email: access.caller!.email,
    assertion,
  })

  /** The identity the upstream learns of, with the signed assertion (cached per caller and service). */
  async function identityOf(access: Extract<Access, { ok: true }>): Promise<Identity | undefined> {
    if (!access.caller) return undefined
    return identityWith(access, await deps.assertions.assertion(access.caller, access.route, deps.clock()))
  }

  /**
   * The upstream request headers. Synchronous when the assertion is cached (nearly always), so
   * the hot path takes no promise; the first request of a caller to a service waits for the signature.
   */
  function headersFor(req: IncomingMessage, access: Extract<Access, { ok: true }>, nominated: ReadonlySet<string>, requestId: string): string[] | Promise<string[]> {
    const build = (identity: Identity | undefined) =>
      upstreamHeaders(req.rawHeaders, nominated, {
        host: access.route.publicHost,
        forwardedFor: clientAddressChain(req.socket.remoteAddress, req.rawHeaders, deps.trustedProxies),
        proto: deps.proto,
        requestId,
        issuer: deps.issuer,
        identity,
      })
    if (!access.caller) return build(undefined)
    const cached = deps.assertions.cached(access.caller, access.route, deps.clock())
    if (cached) return build(identityWith(access, cached))
    return identityOf(access).then(build)
  }

  function finish(req: IncomingMessage, res: ServerResponse, access: Access | undefined, started: number, requestId: string) {
    const service = access?.route?.resource ?? ''
    const verdict = access?.verdict ?? 'error'
    res.once('finish', () => {
      const seconds = (performance.now() - started) / 1000
      deps.metrics.request(service, verdict, seconds)
      if (deps.accessLog || res.statusCode >= 500) {
        deps.log.log(res.statusCode >= 500 ? 'warn' : 'info', 'request', {
          requestId,
          method: req.method,
          host: req.headers.host,
          path: loggedTarget(req.url ?? ''),
          status: res.statusCode,
          verdict,
          service,
          principal: access?.ok ? access.caller?.member : undefined,
          durationMs: Math.round(seconds * 1e4) / 10,
        })
      }
    })
  }

  return {
    decideAccess,
    identityOf,
    /** Call after every directory change: open tunnels whose caller lost access are closed. */
    recheckTunnels: () => tunnels.recheck(),
    closeTunnels: () => tunnels.closeAll(),
    /** Holds an open HTTP/2 stream to the same rule as a tunnel: closed within a second of its caller losing access. */
    trackStream: (grant: TunnelGrant, close: () => void) => tunnels.add(grant, close),

    /**
     * `sendContinue`: the client waits for `100 Continue` before sending its body (the server's
     * 'checkContinue'): it is asked for it only once the request is to be forwarded, so that a
     * refused upload is never sent (nginx, too, asks only once it starts to read the body).
     */
    request(req: IncomingMessage, res: ServerResponse, sendContinue = false): void {
      const started = performance.now()
      const fail = (err: unknown) => {
        deps.log.log('error', 'gateway failed', { err: String(err), stack: (err as Error).stack })
        finish(req, res, undefined, started, requestIdOf(req))
        sendGatewayError(res, req.headers.accept, 'INTERNAL', 'Internal error.')
      }
      let nominated = NOTHING_NOMINATED
      const respond = (access: Access): void => {
        if (!access.ok && access.unknownHost && deps.internal(req, res)) return
        const requestId = requestIdOf(req)
        finish(req, res, access, started, requestId)
        if (!access.ok) {
          // A refused request's body is not waited for: the connection ends with the answer,
          // lingering while the body still comes so that the client reads the answer (closed at
          // once, the connection is reset by the body's next bytes, and a client still writing
          // them gets EPIPE, not the answer). One whose body's end is in doubt has nothing more
          // read from it.
          const unread = hasBody(req) && !req.complete
          if (unread && !access.framingInDoubt) lingerOnClose(req.socket, req)
          sendAnswer(res, refusalAnswer(access, req.headers.accept), unread ? CLOSE : undefined)
          req.resume()
          return
        }
        if (sendContinue) res.writeContinue()
        bodyDeadline(req, res, access.route)
        const headers = headersFor(req, access, nominated, requestId)
        const privately = access.caller !== undefined
        if (Array.isArray(headers)) deps.upstreams.forward(req, res, access.route, headers, privately)
        else headers.then((h) => deps.upstreams.forward(req, res, access.route, h, privately), fail)
      }
      try {
        const shape = checkRequestShape(req)
        if ('problem' in shape) {
          // A request whose framing or headers are suspect ends its connection.
          respond({ ok: false, ...shape.problem, headers: { connection: 'close' }, verdict: 'bad_request' })
          return
        }
        nominated = shape.nominated
        // From here on the request's target is origin-form: what is decided on is what is forwarded.
        req.url = shape.target
        const access = decideAccess({ method: req.method ?? 'GET', host: req.headers.host, rawHeaders: req.rawHeaders, path: req.url ?? '/' })
        if (access instanceof Promise) access.then(respond).catch(fail)
        else respond(access)
      } catch (err) {
        fail(err)
      }
    },

    /** `asPlain` (h2c-upgrade.ts), where the server offers it, serves the request as a plain one instead. */
    upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, asPlain?: () => boolean): void {
      // Node's server stops listening for the socket's errors when it hands over an upgrade: a
      // caller that resets the connection while it is decided (or as the refusal is written) would
      // otherwise end the whole process with an unhandled ECONNRESET or EPIPE.
      socket.on('error', () => socket.destroy())
      void (async () => {
        const shape = checkRequestShape(req)
        let access: Access
        if ('problem' in shape) access = { ok: false, ...shape.problem, verdict: 'bad_request' }
        else if (hasBody(req)) access = { ok: false, status: 'INVALID_ARGUMENT', message: 'An Upgrade request may not carry a body.', verdict: 'bad_request' }
        // Served as a plain request before it gets here (servingH2cAsHttp1); never asked of an upstream.
        else if (upgradesToH2c(req.headers.upgrade)) access = { ok: false, status: 'INVALID_ARGUMENT', message: 'An upgrade to h2c is not passed on.', verdict: 'bad_request' }
        // Postern's own paths are pages and redirects: nothing there upgrades.
        else if (posternEndpoint(shape.target)) access = { ok: false, status: 'NOT_FOUND', message: 'Postern’s own paths do not take upgrades.', verdict: 'not_found' }
        else {
          req.url = shape.target
          access = await decideAccess({ method: req.method ?? 'GET', host: req.headers.host, rawHeaders: req.rawHeaders, path: req.url ?? '/' })
        }
        // No service's host: what the gateway answers there itself (forward-auth, which a proxy in
        // front asks with its caller's Upgrade header on, health, readiness) or its 404 are
        // answered as to the plain request, which upgrades nothing.
        if (!access.ok && access.unknownHost && asPlain?.()) return
        deps.metrics.request(access.route?.resource ?? '', access.verdict, 0)
        if (!access.ok) {
          refuseUpgrade(socket, access, req.headers.accept)
          return
        }
        const headers = await headersFor(req, access, 'nominated' in shape ? shape.nominated : NOTHING_NOMINATED, requestIdOf(req))
        const grant: TunnelGrant = { host: req.headers.host!, serviceUid: access.route.service.uid, claims: access.caller?.claims, session: access.session }
        let forget: (() => void) | undefined
        forwardUpgrade(req, socket, head, access.route, headers, deps.log, {
          spliced: (close) => (forget = tunnels.add(grant, close)),
          closed: () => forget?.(),
        }, access.caller !== undefined)
      })().catch((err) => {
        deps.log.log('error', 'gateway upgrade failed', { err: String(err) })
        rejectUpgrade(socket, 'INTERNAL', 'Internal error.')
      })
    },
  }
}

/** The refusal while the view is not to be decided from (Freshness.stale), for a known host or not. */
const UNAVAILABLE = {
  ok: false,
  status: 'UNAVAILABLE',
  message: 'Postern will not decide from its view of the database now: the database is out of reach, or was replaced and is being reloaded (/readyz says which); try again shortly.',
  headers: { 'retry-after': '5' },
  verdict: 'unavailable',
} as const satisfies Access

function refused(route: Route, r: Refusal): Access {
  return { ok: false, route, ...r }
}

function browserRequest(view: RequestView) {
  return { method: view.method, host: view.host ?? '', path: view.path, rawHeaders: view.rawHeaders }
}

function unauthenticated(route: Route, description: string, challenge = invalidTokenChallenge(description)): Access {
  return { ok: false, route, status: 'UNAUTHENTICATED', message: `Invalid ID token: ${description}`, headers: { 'www-authenticate': challenge }, verdict: 'unauthenticated' }
}

/**
 * DESIGN §4 step 5: who lacked which permission where, what an admin would run, and how the
 * caller can ask for time-limited access themselves (DESIGN §9).
 */
export function deniedMessage(member: string, route: Route, policyHoldsConditions = false): string {
  const { projectId, serviceId } = route.service
  return `Permission 'run.routes.invoke' denied for ${member} on ${route.resource}; an admin can run: postern services add-iam-policy-binding ${serviceId} --project=${projectId} --member='${member}' --role='roles/run.invoker'${policyHoldsConditions ? ' --condition=None' : ''}; or ask for access for a while: postern services request-access ${serviceId} --project=${projectId} --for=1h --reason='WHY'`
}

/**
 * A request body must arrive within the service's timeout, as its answer must: a client that
 * dribbles its body a byte at a time cannot hold a connection (and an upstream's) for good.
 */
function bodyDeadline(req: IncomingMessage, res: ServerResponse, route: Route): void {
  if (req.complete || !hasBody(req)) return
  const seconds = route.service.timeoutSeconds
  const timer = setTimeout(() => {
    if (req.complete) return
    // Once the answer is out, the request (and with it the upstream's) is torn down.
    res.once('finish', () => req.destroy())
    sendGatewayError(res, req.headers.accept, 'REQUEST_TIMEOUT', `The request body did not arrive within ${seconds} s, the timeout of ${route.resource}.`, { connection: 'close' })
  }, seconds * 1000)
  timer.unref()
  const clear = () => clearTimeout(timer)
  req.once('end', clear)
  res.once('close', clear)
}

/** Whether a request declares a body (Content-Length other than 0, or any Transfer-Encoding). */
function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length']
  return length !== undefined ? length !== '0' : req.headers['transfer-encoding'] !== undefined
}

/** Until a request's Connection header is read: no header is nominated for removal. */
const NOTHING_NOMINATED: ReadonlySet<string> = new Set()

const CLOSE = { connection: 'close' }

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

/** The caller's X-Request-Id when it is a sane token, else a new one; it travels to the upstream and into logs. */
export function requestIdOf(req: IncomingMessage): string {
  const value = req.headers['x-request-id']
  return typeof value === 'string' && REQUEST_ID.test(value) ? value : randomUUID()
}

export type Gateway = ReturnType<typeof createGateway>
