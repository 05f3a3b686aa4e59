import { CliError } from './errors.js'
import type { ApiErrorBody } from '../api/types.js'
import { request, requestSafely } from './http-client.js'
import type { Impersonation } from './impersonation.js'
import type { Session } from './session.js'

/** The control API, called with the active account's access token; server errors become CliErrors carrying the status. */
export class Api {
  constructor(
    readonly server: string,
    private readonly session: Session,
    /** The account the calls are made as; the active one when undefined. */
    private readonly account?: string,
    /** Made instead as this service account, with a token the account asks for (impersonation.ts). */
    private readonly impersonation?: Impersonation,
  ) {}

  /**
   * One API call. `o.idempotent` says it is safe to send twice (a read, or a write guarded by an
   * etag); GET always is. Such a call is retried when the connection breaks under it.
   */
  async call<T = Record<string, unknown>>(method: string, path: string, body?: unknown, o: { idempotent?: boolean } = {}, again = false): Promise<T> {
    // The account's sign-in at this server, whose token goes only to it (session.ts).
    const token = this.impersonation ? await this.impersonation.accessToken() : await this.session.accessToken(this.account, this.server)
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
    // A cached token the server no longer takes (its key gone with a restored database, a clock
    // that misjudged its expiry): forgotten, and the call made once more with a new one, as
    // google-auth's sessions do. A refusal for the token changed nothing, so a write may go again;
    // a sign-in that is over says so from the refresh.
    if (res.status === 401 && !again) {
      if (this.impersonation) this.impersonation.forget(token)
      else await this.session.forgetTokens(token, this.account, this.server)
      return this.call<T>(method, path, body, o, true)
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
