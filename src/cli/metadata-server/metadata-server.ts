import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { CliError } from '../errors.js'
import type { IdentitySource } from './identity-sources.js'
import { classify, SCOPES, type MetadataRequest } from './metadata-requests.js'
import { TokenCache } from './token-cache.js'

export interface MetadataServer {
  /** host:port, as GCE_METADATA_HOST wants it. */
  address: string
  close(): Promise<void>
}

/**
 * The GCE metadata endpoints Google's client libraries use to find an identity without a key
 * file, answered with Postern tokens of `source`: ID tokens for any audience (services) and an
 * access token (the Postern API), each cached and renewed before it expires. Every answer carries
 * `Metadata-Flavor: Google`, as the libraries check.
 */
export async function startMetadataServer(o: { host: string; port: number; source: IdentitySource; log: (line: string) => void; now?: () => number }): Promise<MetadataServer> {
  const now = o.now ?? Date.now
  const cache = new TokenCache(now)
  const server: Server = createServer((req, res) => {
    void answer(req, res).catch((err: unknown) => {
      o.log(`metadata request failed: ${(err as Error).message}`)
      if (!res.headersSent) send(res, 500, 'Internal error.')
      else res.destroy()
    })
  })

  async function answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const r: MetadataRequest = classify({ method: req.method ?? 'GET', target: req.url ?? '/', headers: req.headers, email: o.source.email, listenHost: o.host })
    req.resume()
    switch (r.kind) {
      case 'refuse':
        return send(res, r.status, r.text)
      case 'listing':
        return send(res, 200, r.lines.map((l) => `${l}\n`).join(''))
      case 'text':
        return send(res, 200, r.field === 'email' ? o.source.email : r.field === 'project-id' ? o.source.projectId : SCOPES.map((s) => `${s}\n`).join(''))
      case 'account':
        return sendJson(res, { aliases: ['default'], email: o.source.email, scopes: SCOPES })
      case 'identity': {
        const got = await fetched(res, () => cache.get(`id:${r.includeEmail}:${r.audience}`, () => o.source.idToken(r.audience, r.includeEmail)))
        return got && send(res, 200, got.token)
      }
      case 'token': {
        const got = await fetched(res, () => cache.get('access', () => o.source.accessToken()))
        return got && sendJson(res, { access_token: got.token, expires_in: Math.max(0, Math.floor((got.expiry - now()) / 1000)), token_type: 'Bearer' })
      }
    }
  }

  /** Postern's refusal (the account cannot be impersonated, the key was deleted) is the caller's 403; Postern out of reach is a 503 to retry. */
  async function fetched<T>(res: ServerResponse, get: () => Promise<T>): Promise<T | undefined> {
    try {
      return await get()
    } catch (err) {
      const refused = err instanceof CliError
      o.log(`could not get a token for ${o.source.email}: ${(err as Error).message}`)
      send(res, refused ? 403 : 503, refused ? (err as Error).message : `Postern could not be reached: ${(err as Error).message}`)
      return undefined
    }
  }

  server.headersTimeout = 10_000
  server.requestTimeout = 30_000
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(o.port, o.host, () => resolve())
  })
  const { port } = server.address() as AddressInfo
  return {
    address: `${o.host.includes(':') ? `[${o.host}]` : o.host}:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

function send(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'metadata-flavor': 'Google', 'content-type': 'application/text', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' })
  res.end(text)
}

function sendJson(res: ServerResponse, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(200, { 'metadata-flavor': 'Google', 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' })
  res.end(text)
}
