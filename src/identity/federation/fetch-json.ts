import type { FetchJson } from './provider-keys.js'
import { ProviderFetchError } from './provider-keys.js'

/**
 * The one network function of federation: GET a JSON document with a timeout and a size bound,
 * no redirects (a discovery document or JWKS that moves is refused rather than followed
 * anywhere), and the Cache-Control max-age it came with.
 */
export function boundedFetchJson(o: { timeoutMs: number; maxBytes: number }): FetchJson {
  return async (url) => {
    const res = await send(url, { headers: { accept: 'application/json' } }, o.timeoutMs)
    if (!res.ok) {
      await res.body?.cancel()
      throw new ProviderFetchError(`${url} answered HTTP ${res.status}`)
    }
    return readBounded(res, url, o.maxBytes)
  }
}

/** POSTs a form (a code redemption at a provider's token endpoint); any status, the JSON body bounded as above. */
export async function boundedPostForm(url: string, form: Record<string, string>, o: { timeoutMs: number; maxBytes: number }): Promise<{ status: number; body: unknown }> {
  const res = await send(url, { method: 'POST', body: new URLSearchParams(form), headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' } }, o.timeoutMs)
  return { status: res.status, body: (await readBounded(res, url, o.maxBytes)).body }
}

async function send(url: string, init: RequestInit, timeoutMs: number): Promise<Response> {
  try {
    return await fetch(url, { ...init, redirect: 'error', signal: AbortSignal.timeout(timeoutMs) })
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause
    throw new ProviderFetchError(`cannot fetch ${url}: ${cause?.code ?? cause?.message ?? (err as Error).message}`)
  }
}

async function readBounded(res: Response, url: string, maxBytes: number): Promise<{ body: unknown; maxAgeSeconds: number | undefined }> {
  const chunks: Uint8Array[] = []
  let size = 0
  const reader = res.body?.getReader()
  for (;;) {
    const part = reader ? await reader.read() : { done: true as const, value: undefined }
    if (part.done) break
    size += part.value.byteLength
    if (size > maxBytes) {
      await reader?.cancel()
      throw new ProviderFetchError(`${url} is larger than ${maxBytes} bytes`)
    }
    chunks.push(part.value)
  }
  let body: unknown
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'))
  } catch {
    throw new ProviderFetchError(`${url} is not JSON`)
  }
  const maxAge = /(?:^|,)\s*max-age=(\d{1,9})/i.exec(res.headers.get('cache-control') ?? '')
  return { body, maxAgeSeconds: maxAge ? Number(maxAge[1]) : undefined }
}
