import { samePerson, type Session } from './types.ts'

/**
 * The console's one way to the control API: same-origin fetch with the session cookie, and the
 * session's CSRF token on every request that is not a GET (the sign-in contract).
 */
export class ApiError extends Error {
  override readonly name = 'ApiError'
  constructor(
    /** HTTP status; 0 when the server could not be reached. */
    readonly httpStatus: number,
    /** The API's canonical status (PERMISSION_DENIED, ABORTED, …). */
    readonly status: string,
    message: string,
  ) {
    super(message)
  }
}

export interface Api {
  get<T>(path: string): Promise<T>
  post<T>(path: string, body?: unknown): Promise<T>
  patch<T>(path: string, body: unknown): Promise<T>
  delete<T>(path: string): Promise<T>
}

export interface SessionEvents {
  /** Every 401; the call still fails with UNAUTHENTICATED. */
  ended: () => void
  /** The session was replaced by a new sign-in of the same person (its cookie and CSRF token are new). */
  renewed: (session: Session) => void
}

/**
 * The page is never left for /signin here: that would drop what a person has typed into an open
 * dialog. A change refused for its CSRF token, when the person signed in again in this browser
 * (on a service's page, /device: nothing told this tab), is sent once more with the new token:
 * the refused one changed nothing.
 */
export function createApi(session: Session, on: SessionEvents): Api {
  let csrfToken = session.csrfToken
  const call = async <T>(method: string, path: string, body?: unknown, again = false): Promise<T> => {
    const headers: Record<string, string> = { accept: 'application/json' }
    if (method !== 'GET') headers['x-csrf-token'] = csrfToken
    if (body !== undefined) headers['content-type'] = 'application/json'
    const res = await send(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
    if (res.status === 401) on.ended()
    if (res.status === 403 && method !== 'GET' && !again) {
      const renewed = await renewedSession(res.clone(), session, csrfToken)
      if (renewed) {
        csrfToken = renewed.csrfToken
        on.renewed(renewed)
        return call(method, path, body, true)
      }
    }
    return readJson<T>(res)
  }
  return {
    get: (path) => call('GET', path),
    post: (path, body = {}) => call('POST', path, body),
    patch: (path, body) => call('PATCH', path, body),
    delete: (path) => call('DELETE', path),
  }
}

async function send(path: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(path, { ...init, credentials: 'same-origin', cache: 'no-store' })
  } catch {
    throw new ApiError(0, 'UNAVAILABLE', 'The Postern server could not be reached.')
  }
}

async function readJson<T>(res: Response): Promise<T> {
  const text = await res.text()
  let value: unknown = {}
  try {
    value = text ? JSON.parse(text) : {}
  } catch {
    if (res.ok) throw new ApiError(res.status, 'INTERNAL', 'The server sent a response the console could not read.')
  }
  if (res.ok) return value as T
  const error = (value as { error?: { status?: unknown; message?: unknown } }).error
  throw new ApiError(
    res.status,
    typeof error?.status === 'string' ? error.status : 'UNKNOWN',
    typeof error?.message === 'string' ? error.message : `The server answered ${res.status} ${res.statusText}.`,
  )
}

/** After a 403: the same person's new session, when the refusal was of the CSRF token and a new sign-in replaced it. */
async function renewedSession(refusal: Response, session: Session, sent: string): Promise<Session | undefined> {
  const text = await refusal.text().catch(() => '')
  if (!/X-CSRF-Token/i.test(text)) return undefined
  const current = await fetchSession().catch(() => undefined)
  if (!current || !samePerson(current, session) || current.csrfToken === sent) return undefined
  return current
}

/** Reads the signed-in session; undefined when signed out. */
export async function fetchSession(): Promise<Session | undefined> {
  const res = await send('/v1/session', { headers: { accept: 'application/json' } })
  if (res.status === 401) return undefined
  return readJson(res)
}

/** Sends the browser to the sign-in page, to come back here afterwards (when the console opens without a session). */
export function goToSignIn(): void {
  const here = window.location.pathname + window.location.search
  window.location.assign(`/signin?return_to=${encodeURIComponent(here.startsWith('/console') ? here : '/console')}`)
}

export { paths } from '../../../src/api/paths.js'
