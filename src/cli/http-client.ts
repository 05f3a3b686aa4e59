import { lookup as dnsLookup } from 'node:dns'
import { Agent, fetch, type Dispatcher, type RequestInit } from 'undici'
import { CliError } from './errors.js'

/**
 * `*.localhost` is loopback (RFC 6761) and curl and browsers resolve it themselves; Node's
 * resolver does not, so Postern's clients map it here (DESIGN §2).
 */
export function lookupLocalhost(hostname: string, options: object, callback: (...args: never[]) => void): void {
  const cb = callback as unknown as (err: Error | null, address: string | { address: string; family: number }[], family?: number) => void
  if (hostname === 'localhost' || hostname.endsWith('.localhost')) {
    if ((options as { all?: boolean }).all) cb(null, [{ address: '127.0.0.1', family: 4 }])
    else cb(null, '127.0.0.1', 4)
    return
  }
  dnsLookup(hostname, options as never, cb as never)
}

export const localhostAware: Dispatcher = new Agent({ connect: { lookup: lookupLocalhost as never } })

export interface ApiErrorBody {
  error?: { code?: number; status?: string; message?: string } | string
  error_description?: string
}

/** fetch with *.localhost resolution and a clear message when the server is not there. */
export async function request(url: string, init: RequestInit = {}): Promise<Awaited<ReturnType<typeof fetch>>> {
  try {
    return await fetch(url, { ...init, dispatcher: localhostAware })
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause
    if (cause?.code === 'ECONNREFUSED') throw new CliError(`Cannot reach the Postern server at ${new URL(url).origin}: connection refused. Is 'postern serve' running? (postern config set server URL)`)
    throw new CliError(`Cannot reach ${new URL(url).origin}: ${(cause as Error | undefined)?.message ?? (err as Error).message}`)
  }
}
