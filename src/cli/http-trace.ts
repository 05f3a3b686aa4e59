import { subscribe, unsubscribe } from 'node:diagnostics_channel'

/**
 * `--verbosity=debug` and `--log-http`: one line per HTTP request the CLI makes and one per answer, on stderr.
 * Node's fetch (and undici) announce every request on these diagnostics channels, so each request
 * is seen however deep the code that sends it, with nothing passed down. Only the method and the
 * URL are shown, never a header or a body, where tokens travel; a query parameter whose name says
 * it holds a secret is shown without its value.
 */
const CREATED = 'undici:request:create'
const ANSWERED = 'undici:request:headers'

interface TracedRequest {
  method?: string
  origin?: string | URL
  path?: string
}

/** Starts printing requests through `write`; the function returned stops it. */
export function traceHttp(write: (line: string) => void): () => void {
  const created = (message: unknown) => {
    const { request } = message as { request: TracedRequest }
    write(`DEBUG: --> ${describeRequest(request)}\n`)
  }
  const answered = (message: unknown) => {
    const { request, response } = message as { request: TracedRequest; response: { statusCode?: number } }
    write(`DEBUG: <-- ${response.statusCode ?? '?'} ${describeRequest(request)}\n`)
  }
  subscribe(CREATED, created)
  subscribe(ANSWERED, answered)
  return () => {
    unsubscribe(CREATED, created)
    unsubscribe(ANSWERED, answered)
  }
}

const SECRET = /token|secret|password|passwd|assertion|code|key|signature|credential|auth/i

/** `GET http://host/path?q=v`, with the values of secret-looking query parameters left out. */
export function describeRequest(request: TracedRequest): string {
  const url = `${String(request.origin ?? '').replace(/\/$/, '')}${request.path ?? ''}`
  const at = url.indexOf('?')
  if (at < 0) return `${request.method ?? 'GET'} ${url}`
  const query = url.slice(at + 1).split('&').map((pair) => {
    const name = pair.split('=', 1)[0]!
    return pair.includes('=') && SECRET.test(decodeName(name)) ? `${name}=REDACTED` : pair
  })
  return `${request.method ?? 'GET'} ${url.slice(0, at)}?${query.join('&')}`
}

function decodeName(name: string): string {
  try {
    return decodeURIComponent(name.replace(/\+/g, ' '))
  } catch {
    return name
  }
}
