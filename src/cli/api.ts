import { CliError } from './errors.js'
import type { ApiErrorBody } from '../api/types.js'
import { request, requestSafely } from './http-client.js'
import type { Session } from './session.js'

/** The control API, called with the active account's access token; server errors become CliErrors carrying the status. */
export class Api {
  constructor(
    readonly server: string,
    private readonly session: Session,
    /** The account the calls are made as; the active one when undefined. */
    private readonly account?: string,
  ) {}

  /**
   * One API call. `o.idempotent` says it is safe to send twice (a read, or a write guarded by an
   * etag); GET always is. Such a call is retried when the connection breaks under it.
   */
  async call<T = Record<string, unknown>>(method: string, path: string, body?: unknown, o: { idempotent?: boolean } = {}): Promise<T> {
    // The account's sign-in at this server, whose token goes only to it (session.ts).
    const token = await this.session.accessToken(this.account, this.server)
    const send = o.idempotent || method === 'GET' ? requestSafely : request
    const res = await send(this.server + path, {
      method,
      headers: { authorization: `Bearer ${token}`, accept: 'application/json', ...(body !== undefined && { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    const text = await res.text()
    let parsed: unknown
    try {
      parsed = text ? JSON.parse(text) : {}
    } catch {
      throw new CliError(`Unexpected answer from ${this.server} (HTTP ${res.status}); is it a Postern server?`)
    }
    if (!res.ok) {
      const e = (parsed as ApiErrorBody).error
      const status = typeof e === 'object' ? e?.status : undefined
      const message = typeof e === 'object' ? e?.message : (parsed as ApiErrorBody).error_description
      throw new CliError(`ERROR: (${status ?? res.status}) ${message ?? 'request failed'}`, 1, status)
    }
    return parsed as T
  }
}
