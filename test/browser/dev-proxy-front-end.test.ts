import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { ChildProcess } from 'node:child_process'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startPostern, type PosternProcess } from '../support/server.js'
import { startServicesProxy } from '../support/services-proxy.js'
import { launchChromium } from './console-harness.js'

/**
 * A front end's dev server calling a private API through `postern services proxy`, in Debian's
 * Chromium: the page at http://localhost:FRONT posts JSON to http://localhost:PROXY (a preflight,
 * then the request). The proxy refuses pages of other origins, as it must, so the developer names
 * theirs with `--allow-origins`; the app answers CORS as it would in production. Pages not named
 * still cannot act with the developer's identity.
 */
let p: PosternProcess
let browser: Browser
let api: Server
let front: Server
const proxies: ChildProcess[] = []
const seen: { method: string; headers: IncomingHttpHeaders }[] = []

/** An app that answers CORS for any origin it is asked from (what a dev API often does) and echoes who called it. */
function startApi(): Promise<Server> {
  const server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', headers: req.headers })
    const cors = { 'access-control-allow-origin': req.headers.origin ?? '*', 'access-control-allow-headers': 'content-type', 'access-control-allow-methods': 'POST', vary: 'Origin' }
    if (req.method === 'OPTIONS') {
      res.writeHead(204, cors).end()
      return
    }
    req.resume().on('end', () => res.writeHead(200, { ...cors, 'content-type': 'application/json' }).end(JSON.stringify({ hello: 'from the api' })))
  })
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)))
}

/** The front end: one empty page, from which the test runs fetch. */
function startFront(): Promise<Server> {
  const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>front end</title>'))
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)))
}

const portOf = (s: Server) => (s.address() as AddressInfo).port

/** Opens the front end at `origin` and posts JSON from it to the proxy: the answer's body, or the browser's error. */
async function postFrom(origin: string, proxyUrl: string): Promise<string> {
  const page = await browser.newPage()
  try {
    await page.goto(origin + '/')
    return await page.evaluate(async (url) => {
      try {
        const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"q":1}' })
        return `${r.status} ${await r.text()}`
      } catch (err) {
        return `failed: ${(err as Error).message}`
      }
    }, proxyUrl + '/items')
  } finally {
    await page.close()
  }
}

describe('a front end on another local port calls a private API through postern services proxy, in Chromium', () => {
  beforeAll(async () => {
    api = await startApi()
    front = await startFront()
    p = await startPostern()
    const created = await p.cli(['services', 'create', 'api', `--upstream=http://127.0.0.1:${portOf(api)}`])
    expect(created.code, created.stderr).toBe(0)
    browser = await launchChromium()
  })
  afterAll(async () => {
    for (const proxy of proxies) proxy.kill('SIGTERM')
    await browser?.close()
    await p?.stop()
    api?.close()
    front?.close()
  })

  it('without --allow-origins the page is refused, and nothing reaches the app', async () => {
    const proxy = await startServicesProxy('api', p.configDir)
    proxies.push(proxy.process)
    const before = seen.length
    const answer = await postFrom(`http://localhost:${portOf(front)}`, `http://localhost:${proxy.port}`)
    expect(answer).toMatch(/^failed/)
    expect(seen.length).toBe(before)
  })

  it("with --allow-origins naming the page (same-site and cross-site to the proxy), its preflight and request reach the private app (the developer's token admitted them); another page is still refused", async () => {
    const named = `http://localhost:${portOf(front)},http://127.0.0.1:${portOf(front)}`
    const proxy = await startServicesProxy('api', p.configDir, { args: ['--allow-origins', named] })
    proxies.push(proxy.process)
    expect(proxy.output()).toContain(`pages at http://localhost:${portOf(front)}, http://127.0.0.1:${portOf(front)} may call`)
    for (const origin of [`http://localhost:${portOf(front)}`, `http://127.0.0.1:${portOf(front)}`]) {
      const before = seen.length
      const answer = await postFrom(origin, `http://localhost:${proxy.port}`)
      expect(answer, origin).toBe('200 {"hello":"from the api"}')
      const reached = seen.slice(before)
      expect(reached.map((r) => r.method), origin).toEqual(['OPTIONS', 'POST'])
      for (const r of reached) expect(r.headers.origin).toBe(origin)
    }
    // A page of another origin (the same host on another port) is not named: refused before the app.
    const other = await new Promise<Server>((resolve) => {
      const s = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html>'))
      s.listen(0, '127.0.0.1', () => resolve(s))
    })
    try {
      const before = seen.length
      expect(await postFrom(`http://localhost:${portOf(other)}`, `http://localhost:${proxy.port}`)).toMatch(/^failed/)
      expect(seen.length).toBe(before)
    } finally {
      other.close()
    }
  })

  it('an --allow-origins that is no origin, or a wildcard, is a usage error', async () => {
    for (const value of ['*', 'null', 'http://localhost:3000/app', 'localhost:3000', 'ftp://localhost', '']) {
      const r = await p.cli(['services', 'proxy', 'api', '--port', '0', `--allow-origins=${value}`])
      expect(r.code, value).toBe(2)
      expect(r.stderr, value).toContain('--allow-origins')
    }
  })
})
