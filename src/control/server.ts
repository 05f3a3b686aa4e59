import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http'
import { PosternError, asPosternError } from '../core/errors.js'
import { readJsonObject } from '../http/body.js'
import { sendError, sendJson } from '../http/respond.js'
import { Router } from '../http/router.js'
import { authenticateBearer, type Caller } from './caller.js'
import type { ControlDeps } from './deps.js'
import type { Handler, RequestContext } from './handler.js'
import { originFormTarget } from '../http/request-target.js'

export type Mount = (router: Router<Handler>) => void

/**
 * Mounts routes anyone may call: the OpenID Provider, sign-in, the pages, the console's files,
 * /healthz and /readyz (not /metrics, which names every service: routes/metrics.ts). Every route
 * mounted otherwise establishes its caller before anything else, so an anonymous request is
 * answered 401 before its body is read, parsed or validated.
 */
export function anonymous(mount: Mount): Mount {
  return (router) => {
    const open = { add: (method: string, template: string, handler: Handler) => router.add(method, template, Object.assign((c: RequestContext) => handler(c), { anonymous: true as const })) }
    // Route modules only add routes; the adapter marks each one it adds.
    mount(open as unknown as Router<Handler>)
  }
}

/**
 * The control plane's request listener: one router for the REST API, the OpenID Provider and the
 * pages; one place that turns errors into the one error shape. Route modules are mounted by the
 * composition root.
 */
export function createControlHandler(deps: ControlDeps, mounts: readonly Mount[]): RequestListener {
  const router = new Router<Handler>()
  for (const mount of mounts) mount(router)

  return (req: IncomingMessage, res: ServerResponse) => {
    void handle(req, res).catch((err) => {
      const e = asPosternError(err)
      if (e.status === 'INTERNAL') deps.log.log('error', 'request failed', { method: req.method, path: req.url?.split('?')[0], err: String(err), stack: (err as Error)?.stack })
      sendError(res, e, req.headers.accept)
    })
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // An absolute-form target (RFC 9112 §3.2.2: a server must take it) naming this Host is read
    // as its origin-form, by every route; one naming another host is refused, as on the gateway.
    if (req.url !== undefined && /^https?:\/\//i.test(req.url)) {
      const shaped = originFormTarget(req.url, req.headers.host ?? '')
      if ('problem' in shaped) throw new PosternError(shaped.problem.status, shaped.problem.message)
      req.url = shaped.target
    }
    const url = req.url ?? '/'
    const q = url.indexOf('?')
    const path = q < 0 ? url : url.slice(0, q)
    // HTTP/1.1 requires Host (RFC 9112 §3.2); Node is told not to refuse it itself (main.ts).
    if (req.httpVersion === '1.1' && req.headers.host === undefined) throw new PosternError('INVALID_ARGUMENT', 'The request has no Host header.')
    // Node keeps the first of two Host headers; a proxy in front may have routed by the second.
    if ((req.headersDistinct.host?.length ?? 0) > 1) throw new PosternError('INVALID_ARGUMENT', 'The request has more than one Host header.')
    const match = router.match(req.method ?? 'GET', path)
    if (!match) throw new PosternError('NOT_FOUND', `No such endpoint: ${req.method} ${path.slice(0, 200)}`)
    if ('methodNotAllowed' in match) {
      throw new PosternError('METHOD_NOT_ALLOWED', `Method ${req.method} is not allowed here; use ${match.methodNotAllowed.join(' or ')}.`, {
        headers: { allow: match.methodNotAllowed.join(', ') },
      })
    }
    const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1))
    // Before anything else (a bearer token's sign-in is looked up in the store, so this awaits).
    const caller: Caller | undefined = match.handler.anonymous
      ? undefined
      : (deps.authenticate?.(req) ??
        (await authenticateBearer(req.rawHeaders, {
          keyring: deps.keyring,
          directory: deps.directory,
          store: deps.store,
          issuer: deps.settings.issuer,
          controlUrl: deps.settings.controlUrl,
          now: deps.clock(),
        })))
    const ctx: RequestContext = {
      req,
      res,
      params: match.params,
      query,
      deps,
      caller() {
        // An anonymous route that wants to know its caller authenticates it itself (as userinfo does).
        if (!caller) throw new Error(`caller() asked of an anonymous route (${req.method} ${path.slice(0, 200)})`)
        return caller
      },
      json: () => readJsonObject(req),
    }
    // The API's parameters each take one value: `?serviceId=a&serviceId=b` is refused, not read as
    // its first (the OAuth endpoints and pages check their own, RFC 6749 §3.1). After the caller:
    // an anonymous request learns nothing of what it sent.
    if (path.startsWith('/v1/') || path.startsWith('/v2/')) {
      const repeated = [...new Set(query.keys())].find((k) => query.getAll(k).length > 1)
      if (repeated !== undefined) throw new PosternError('INVALID_ARGUMENT', `Query parameter '${repeated.slice(0, 50)}' is repeated; give it once.`)
    }
    const reply = await match.handler(ctx)
    if (reply === 'sent') return
    sendJson(res, reply.status ?? 200, reply.body, reply.headers)
  }
}
