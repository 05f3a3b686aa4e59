import { once } from 'node:events'
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import http2 from 'node:http2'
import type { AddressInfo } from 'node:net'
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventually } from '../support/eventually.js'
import { DATA_PLANES, startPostern, type PosternProcess } from '../support/server.js'

/**
 * An app that builds its redirects from the Host it is sent, as most frameworks do: behind the
 * gateway that Host is the upstream's own address (as nginx's proxy_pass sends it), so its
 * absolute redirects name an address the caller cannot reach. Both data planes point them at the
 * service URL, as nginx's `proxy_redirect default` does, and leave every other redirect alone.
 */
async function startRedirectingApp(): Promise<{ server: Server; port: number; hosts: string[] }> {
  const hosts: string[] = []
  const server = createServer((req, res) => {
    req.resume()
    const own = `http://${req.headers.host}`
    hosts.push(req.headers.host ?? '')
    const path = new URL(req.url!, 'http://app').pathname.replace(/^\/base/, '')
    const answers: Record<string, Record<string, string>> = {
      '/own': { location: `${own}${req.url!.startsWith('/base') ? '/base' : ''}/internal?x=1` },
      '/own-upper': { location: `HTTP://${req.headers.host!.toUpperCase()}/Internal` },
      '/scheme-relative': { location: `//${req.headers.host}/internal` },
      '/lookalike': { location: `${own}0/internal` },
      '/relative': { location: '/landed' },
      '/other-host': { location: 'https://example.org/elsewhere' },
      '/outside-base': { location: `${own}/other` },
      '/refresh': { refresh: `0; url=${own}/later` },
    }
    const headers = answers[path]
    if (!headers) return void res.writeHead(404).end()
    res.writeHead(headers.location ? 302 : 200, headers).end()
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return { server, port: (server.address() as AddressInfo).port, hosts }
}

describe.each(DATA_PLANES)('an upstream’s redirects to its own address (%s data plane)', (dataPlane) => {
  let p: PosternProcess
  let app: Awaited<ReturnType<typeof startRedirectingApp>>
  let plainUri: string
  let basedUri: string

  const create = async (name: string, upstream: string) => {
    const r = await p.cli(['services', 'create', name, `--upstream=${upstream}`, '--allow-unauthenticated', '--format=json'])
    expect(r.code, r.stderr).toBe(0)
    return JSON.parse(r.stdout).uri as string
  }
  const ask = async (uri: string, path: string) => {
    const r = await request(`http://127.0.0.1:${p.gatewayPort}${path}`, { headers: { host: new URL(uri).host } })
    await r.body.dump()
    return { status: r.statusCode, location: r.headers.location, refresh: r.headers.refresh }
  }

  beforeAll(async () => {
    app = await startRedirectingApp()
    p = await startPostern({ dataPlane })
    plainUri = await create('plain', `http://127.0.0.1:${app.port}`)
    basedUri = await create('based', `http://127.0.0.1:${app.port}/base`)
    await eventually(15_000, async () => (await ask(plainUri, '/relative')).status === 302 && (await ask(basedUri, '/relative')).status === 302, 'both services served')
  })
  afterAll(async () => {
    await p?.stop()
    app?.server.close()
  })

  it('sends the upstream its own host as Host, the service URL’s in X-Forwarded-Host', async () => {
    app.hosts.length = 0
    await ask(plainUri, '/relative')
    expect(app.hosts).toEqual([`127.0.0.1:${app.port}`])
  })

  it('points a Location at the upstream’s own address at the service URL, in any case and scheme-relative', async () => {
    expect(await ask(plainUri, '/own')).toMatchObject({ status: 302, location: `${plainUri}/internal?x=1` })
    expect((await ask(plainUri, '/own-upper')).location).toBe(`${plainUri}/Internal`)
    expect((await ask(plainUri, '/scheme-relative')).location).toBe(`//${new URL(plainUri).host}/internal`)
  })

  it('points a Refresh URL at the upstream’s own address at the service URL', async () => {
    expect(await ask(plainUri, '/refresh')).toMatchObject({ status: 200, refresh: `0; url=${plainUri}/later` })
  })

  it('leaves a relative Location, another host’s, and a port that merely starts with the upstream’s', async () => {
    expect((await ask(plainUri, '/relative')).location).toBe('/landed')
    expect((await ask(plainUri, '/other-host')).location).toBe('https://example.org/elsewhere')
    expect((await ask(plainUri, '/lookalike')).location).toBe(`http://127.0.0.1:${app.port}0/internal`)
  })

  it('under a base path, rewrites what lies beneath it and leaves what lies beside it', async () => {
    expect((await ask(basedUri, '/own')).location).toBe(`${basedUri}/internal?x=1`)
    expect((await ask(basedUri, '/outside-base')).location).toBe(`http://127.0.0.1:${app.port}/other`)
  })

  it('rewrites it for an HTTP/2 caller too', async () => {
    // (Cleartext HTTP/2 reaches the Node gateway only; nginx hands its HTTP/2 streams, under TLS, to the same code.)
    if (dataPlane === 'nginx') return
    const session = http2.connect(`http://127.0.0.1:${p.gatewayPort}`)
    try {
      const stream = session.request({ ':path': '/own', ':authority': new URL(plainUri).host })
      stream.end()
      const [headers] = (await once(stream, 'response')) as [IncomingHttpHeaders]
      stream.resume()
      expect(headers.location).toBe(`${plainUri}/internal?x=1`)
    } finally {
      session.close()
    }
  })
})
