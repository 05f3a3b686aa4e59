import { CliError } from './errors.js'

export interface ApiErrorBody {
  error?: { code?: number; status?: string; message?: string } | string
  error_description?: string
}

/**
 * Node's built-in fetch with a clear message when the server is not there. (The npm undici is
 * not loaded here: every CLI command starts a process, and its import alone costs ~100 ms.)
 */
export async function request(url: string, init: RequestInit = {}): Promise<Response> {
  try {
    return await fetch(url, init)
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause
    if (cause?.code === 'ECONNREFUSED') throw new CliError(`Cannot reach the Postern server at ${new URL(url).origin}: connection refused. Is 'postern serve' running? (postern config set server URL)`, 1, 'UNAVAILABLE')
    throw new CliError(`Cannot reach ${new URL(url).origin}: ${(cause as Error | undefined)?.message ?? (err as Error).message}`, 1, 'UNAVAILABLE')
  }
}
