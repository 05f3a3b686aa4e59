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

/**
 * `onSessionEnded` hears of every 401; the call still fails with UNAUTHENTICATED. The page is
 * never left for /signin here: that would drop what a person has typed into an open dialog.
 */
export function createApi(csrfToken: string, onSessionEnded: () => void): Api {
  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const headers: Record<string, string> = { accept: 'application/json' }
    if (method !== 'GET') headers['x-csrf-token'] = csrfToken
    if (body !== undefined) headers['content-type'] = 'application/json'
    const res = await send(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
    if (res.status === 401) onSessionEnded()
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

/** Reads the signed-in session; undefined when signed out. */
export async function fetchSession(): Promise<{ email: string; csrfToken: string } | undefined> {
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
