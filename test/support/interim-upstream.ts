import { createServer, type AddressInfo, type Socket } from 'node:net'

/**
 * What each path of the interim upstream sends before (or instead of) its final answer, as raw
 * bytes: servers send interim answers (1xx) no one asked for, and HTTP requires every client,
 * proxies included, to read past them (RFC 9110 §15.2).
 */
const INTERIM: Record<string, string[]> = {
  // Some WSGI and Java servers answer 100 Continue to every request, Expect or not.
  '/continue': ['HTTP/1.1 100 Continue\r\n\r\n'],
  // 103 Early Hints (Go, h2o, Node's writeEarlyHints), its Link headers, and a cookie an interim answer may not plant.
  '/hints': ['HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\nLink: </app.js>; rel=preload; as=script\r\nSet-Cookie: postern_session=planted-early; Path=/\r\n\r\n'],
  // Several in a row, one of them in the same write as the final answer.
  '/several': ['HTTP/1.1 100 Continue\r\n\r\n', 'HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n', 'HTTP/1.1 103 Early Hints\r\nLink: </b.css>; rel=preload\r\n\r\n'],
}

export interface InterimUpstream {
  url: string
  /** The request lines received, in order. */
  received: string[]
  close(): Promise<void>
}

/**
 * A raw-socket upstream that sends interim answers before its final one. Paths (any prefix):
 * /continue, /hints, /several → the interim answers above, then `200` with a body; with
 * `?chunked` the final answer is chunked and carries a trailer; `?close` makes the final answer
 * close-delimited; /hang-up → 103, then the connection closes with no final answer; /switch →
 * `101 Switching Protocols` to a request that asked for no upgrade, then bytes of "another
 * protocol"; /split → 100, then a final answer with a bare LF in a header line, behind which
 * hides Postern's cookie (response splitting). The connection is kept alive after a final
 * answer, as real servers keep it; request bodies (Content-Length only) are read before the
 * final answer, after the interim ones.
 */
export async function startInterimUpstream(): Promise<InterimUpstream> {
  const received: string[] = []
  const sockets = new Set<Socket>()
  const server = createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => undefined)
    let buffered = Buffer.alloc(0)
    let waiting: { head: string; body: string; bodyLeft: number } | undefined
    socket.on('data', (d: Buffer) => {
      buffered = Buffer.concat([buffered, d])
      for (;;) {
        if (!waiting) {
          const end = buffered.indexOf('\r\n\r\n')
          if (end === -1) return
          const head = buffered.subarray(0, end).toString('latin1')
          buffered = buffered.subarray(end + 4)
          received.push(head.slice(0, head.indexOf('\r\n')))
          waiting = { head, body: '', bodyLeft: Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0) }
          interim(socket, head)
        }
        const take = Math.min(waiting.bodyLeft, buffered.length)
        waiting.body += buffered.subarray(0, take).toString('latin1')
        buffered = buffered.subarray(take)
        waiting.bodyLeft -= take
        if (waiting.bodyLeft > 0) return
        final(socket, waiting.head, waiting.body)
        waiting = undefined
      }
    })
  })
  const target = (head: string) => new URL(head.slice(head.indexOf(' ') + 1, head.indexOf(' HTTP/')), 'http://x')
  const interim = (socket: Socket, head: string) => {
    const { pathname } = target(head)
    const key = Object.keys(INTERIM).find((k) => pathname.startsWith(k))
    if (key) for (const bytes of INTERIM[key]!) socket.write(bytes)
    if (pathname.startsWith('/hang-up')) {
      socket.end('HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n')
    }
    if (pathname.startsWith('/split')) {
      socket.end('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nX-A: a\nSet-Cookie: postern_session=split\r\nContent-Length: 2\r\n\r\nok')
    }
    if (pathname.startsWith('/switch')) {
      socket.end('HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\nnot http any more')
    }
  }
  const final = (socket: Socket, head: string, requestBody: string) => {
    const { pathname, searchParams } = target(head)
    if (socket.writableEnded || /^\/(hang-up|switch|split)/.test(pathname)) return
    const body = `final answer to ${head.slice(0, head.indexOf(' '))} ${pathname}${requestBody ? ` with ${requestBody}` : ''}\n`
    const common = 'Content-Type: text/plain\r\nSet-Cookie: app=1; Path=/\r\nSet-Cookie: postern_session=planted; Path=/\r\nX-Final: yes\r\n'
    if (searchParams.has('chunked')) {
      socket.write(`HTTP/1.1 200 OK\r\n${common}Transfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\nX-Checksum: abc123\r\n\r\n`)
    } else if (searchParams.has('close')) {
      socket.end(`HTTP/1.1 200 OK\r\n${common}Connection: close\r\n\r\n${body}`)
    } else {
      socket.write(`HTTP/1.1 200 OK\r\n${common}Content-Length: ${body.length}\r\n\r\n${body}`)
    }
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
}
