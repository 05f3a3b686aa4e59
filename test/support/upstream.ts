import { createHash } from 'node:crypto'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { WebSocketServer } from 'ws'

export interface Seen {
  method: string
  url: string
  headers: Record<string, string | string[] | undefined>
  rawHeaders: string[]
  trailers: Record<string, string>
}

/**
 * A real upstream for gateway tests: it records what it received and answers by path:
 * /echo → JSON of the request; /upload → SHA-256 and length of the body; /download?mb=N →
 * N MiB streamed in chunks; /slow?ms=N → answers after N ms; /events?ms=N → an event stream's headers at once, its first event N ms later; /redirect → Location at its own
 * public URL; /big-headers?kb=N → N headers of 1 KB; …/accel → X-Accel-* headers; /early →
 * answers before reading the body; /hints → 103 Early Hints, then the answer; WebSocket echo on
 * any path.
 */
export async function startUpstream(publicUrl?: () => string, address = '127.0.0.1'): Promise<{ url: string; port: number; seen: Seen[]; server: Server; close(): Promise<void> }> {
  const seen: Seen[] = []
  const record = (req: IncomingMessage) => seen.push({ method: req.method!, url: req.url!, headers: req.headers, rawHeaders: req.rawHeaders, trailers: req.trailers as Record<string, string> })
  // Headers as large as the gateway takes (256 KB) reach it: what is refused is refused by the gateway.
  const server = createServer({ maxHeaderSize: 1024 * 1024 }, (req, res) => {
    // A target such as `//` is a path, as any HTTP server reads it, not a scheme-relative URL
    // (which `new URL` refuses without a host, and the process died of it).
    const target = req.url!.startsWith('//') ? `http://upstream${req.url}` : req.url!
    if (!URL.canParse(target, 'http://upstream')) return void res.writeHead(400, { 'content-type': 'application/json' }).end('{"upstream":"an unreadable target"}')
    const url = new URL(target, 'http://upstream')
    if (url.pathname === '/upload') {
      const hash = createHash('sha256')
      let length = 0
      req.on('data', (d: Buffer) => {
        hash.update(d)
        length += d.length
      })
      req.on('end', () => {
        record(req)
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ sha256: hash.digest('hex'), length }))
      })
      return
    }
    if (url.pathname === '/early') {
      // Answers before reading the body (Node's server reads and drops it afterwards).
      record(req)
      res.end('early')
      return
    }
    req.resume()
    req.on('end', () => {
      record(req)
      if (url.pathname === '/download') {
        const chunks = Number(url.searchParams.get('mb') ?? 1) * 16
        res.writeHead(200, { 'content-type': 'application/octet-stream' })
        let i = 0
        const chunk = Buffer.alloc(64 * 1024, 7)
        const write = () => {
          while (i < chunks) {
            i++
            if (!res.write(chunk)) return void res.once('drain', write)
          }
          res.end()
        }
        write()
        return
      }
      if (url.pathname === '/events') {
        // An event stream, as an SSE endpoint opens one: headers at once, the first event ?ms=N later.
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
        res.flushHeaders()
        setTimeout(() => res.end('data: first\n\n'), Number(url.searchParams.get('ms') ?? 1000))
        return
      }
      if (url.pathname === '/slow') {
        setTimeout(() => res.end('slow'), Number(url.searchParams.get('ms') ?? 1000))
        return
      }
      if (url.pathname === '/big-headers') {
        // As an app's cookies, security policy and links add up: ?kb=N headers of 1 KB each.
        const headers: [string, string][] = Array.from({ length: Number(url.searchParams.get('kb') ?? 1) }, (_, i) => [`x-big-${i}`, 'h'.repeat(1000)])
        res.writeHead(200, [...headers.flat(), 'content-type', 'text/plain'])
        res.end('big headers')
        return
      }
      if (url.pathname.endsWith('/accel')) {
        // What an app behind its own nginx sends to have it serve a file, or relay slowly.
        res.writeHead(200, { 'x-accel-redirect': url.searchParams.get('to') ?? '/_postern/nginx-decide', 'x-accel-limit-rate': '1', 'x-accel-buffering': 'yes', 'content-type': 'text/plain' })
        res.end('from the upstream')
        return
      }
      if (url.pathname === '/hints') {
        // 103 Early Hints first (Rails, Go and Node apps send them), then an answer that tries to plant Postern's cookie.
        res.writeEarlyHints({ link: '</style.css>; rel=preload; as=style' })
        res.writeHead(200, { 'set-cookie': ['postern_session=planted; Path=/', 'app=1'], 'content-type': 'text/plain' })
        res.end('after hints')
        return
      }
      if (url.pathname === '/cache') {
        // Each `cc` parameter a Cache-Control line of the answer's, in order.
        res.writeHead(200, [['content-type', 'text/plain'], ...url.searchParams.getAll('cc').map((v): [string, string] => ['cache-control', v])].flat())
        res.end('cacheable?')
        return
      }
      if (url.pathname === '/redirect') {
        res.writeHead(302, { location: `${publicUrl?.() ?? 'http://example.com'}/landed?x=1` })
        res.end()
        return
      }
      res.writeHead(200, { 'content-type': 'application/json', 'set-cookie': ['a=1', 'b=2'] })
      res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers }))
    })
  })
  const wss = new WebSocketServer({ server })
  wss.on('connection', (ws, req) => {
    record(req)
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }))
  })
  await new Promise<void>((resolve) => server.listen(0, address, resolve))
  const port = (server.address() as AddressInfo).port
  return {
    url: `http://${address}:${port}`,
    port,
    seen,
    server,
    close: () =>
      new Promise((resolve) => {
        for (const c of wss.clients) c.terminate()
        wss.close()
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}
