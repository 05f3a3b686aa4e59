import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http'
import { PosternError, asPosternError } from '../core/errors.js'
import { secretsEqual } from '../core/ids.js'
import type { Directory } from '../directory/directory.js'
import type { Logger } from '../core/log.js'
import { sendError } from '../http/respond.js'
import { findSession, readCookie, sessionCookieName } from '../identity/sessions.js'
import { callerFromClaims } from '../identity/caller.js'
import { findSubject } from '../identity/subjects.js'
import type { SessionRecord } from '../store/records.js'
import type { Store } from '../store/store.js'
import { unauthenticated, type Caller } from './caller.js'

export interface ActiveSession {
  record: SessionRecord
  cookie: string
  caller: Caller
  email: string
}

const SAFE_METHODS = new Set(['GET', 'HEAD'])
export const CSRF_HEADER = 'x-csrf-token'

/**
 * Cookie sessions for the control API (DESIGN §5, §7), used by the console. A request without an
 * Authorization header but with the session cookie acts as the session's user, who must still
 * exist and be enabled; any other method than GET/HEAD must also carry the session's CSRF token
 * in X-CSRF-Token. The session is read from the store (sessions are shared by every process and
 * end at once when deleted); `load` does that read before the router runs, so `authenticate`
 * can answer synchronously, as ControlDeps.authenticate must.
 */
export class SessionAuth {
  private readonly loaded = new WeakMap<IncomingMessage, ActiveSession | null>()

  private readonly cookieName: string

  constructor(private readonly deps: { store: Store; directory: Directory; clock: () => number; log: Logger; secureCookies: boolean }) {
    this.cookieName = sessionCookieName(deps.secureCookies)
  }

  /** The request's live session, read once per request. */
  async current(req: IncomingMessage): Promise<ActiveSession | undefined> {
    const known = this.loaded.get(req)
    if (known !== undefined) return known ?? undefined
    const cookie = readCookie(req.headers.cookie, this.cookieName)
    const record = cookie ? await findSession(this.deps.store, cookie, this.deps.clock()) : undefined
    // The directory follows the change feed; a user created a moment ago through another
    // process may not be in it yet, so a miss is settled by the store.
    const principal = record ? (this.deps.directory.principal(record.subjectUid) ?? (await findSubject(this.deps.store, record.subjectUid))) : undefined
    let active: ActiveSession | undefined
    // Console sessions are people's: users and federated subjects, whose groups and attributes are those of their sign-in.
    if (cookie && record && principal && !principal.disabled && principal.kind !== 'serviceAccount') {
      const federation = principal.kind === 'federated' && 'federation' in principal ? principal.federation : undefined
      const accounts = { principal: (uid: string) => (principal.kind === 'user' && principal.uid === uid ? { ...principal, kind: 'user' as const } : undefined), federationProblem: this.deps.directory.federationProblem.bind(this.deps.directory) }
      const checked = callerFromClaims(federation ? { sub: principal.uid, federation } : { sub: principal.uid }, accounts, 'Your account')
      if (checked.ok) active = { record, cookie, email: principal.email || checked.caller.member, caller: checked.caller }
    }
    this.loaded.set(req, active ?? null)
    return active
  }

  /** ControlDeps.authenticate: undefined hands the request to Bearer authentication. */
  readonly authenticate = (req: IncomingMessage): Caller | undefined => {
    if (req.headers.authorization !== undefined) return undefined
    const active = this.loaded.get(req)
    if (!active) {
      if (readCookie(req.headers.cookie, this.cookieName)) throw unauthenticated('Your session has ended; sign in again at /signin.')
      return undefined
    }
    if (!SAFE_METHODS.has(req.method ?? 'GET')) {
      const sent = req.headers[CSRF_HEADER]
      if (typeof sent !== 'string' || !secretsEqual(sent, active.record.csrfToken)) {
        throw new PosternError('PERMISSION_DENIED', 'Missing or wrong X-CSRF-Token header: requests authenticated by the session cookie must echo the csrfToken from GET /v1/session.')
      }
    }
    return active.caller
  }

  /** Wraps the control plane's listener so the session is loaded before routing. */
  wrap(inner: RequestListener): RequestListener {
    return (req: IncomingMessage, res: ServerResponse) => {
      if (req.headers.authorization !== undefined || !readCookie(req.headers.cookie, this.cookieName)) {
        inner(req, res)
        return
      }
      this.current(req).then(
        () => inner(req, res),
        (err) => {
          this.deps.log.log('error', 'session lookup failed', { err: String(err) })
          sendError(res, asPosternError(err), req.headers.accept)
        },
      )
    }
  }
}
