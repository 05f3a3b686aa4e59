import { connect, createServer, type Socket } from 'node:net'
import type { AddressInfo } from 'node:net'

export interface ClosingServer {
  url: string
  port: number
  /** The request line of every request received, and of those answered (or relayed). */
  received: string[]
  answered: string[]
  /** For each connection its client closed, idle, after the answer: how long after, in ms. */
  closedIdleAfterMs: number[]
  stop(): Promise<void>
}

/**
 * A server that loses the race every keep-alive client runs against its server's idle timeout
 * (Node's 5 s, uvicorn's 5 s, gunicorn's 2 s), every time rather than once in a while: it answers
 * the first request on each connection and keeps the connection open, then closes it unanswered
 * when the next request arrives, as if its idle timeout had fired just then (`fin`), or resets it
 * (`rst`: SO_LINGER 0, as when the request reaches a socket already closed). Raw bytes, so
 * nothing smooths the race over. Requests are taken to be bodiless.
 *
 * It answers itself, or with `relayTo` relays each connection's first request to that port and
 * its answer back: the race put in front of a real server.
 */
export async function startClosingServer(close: 'fin' | 'rst', relayTo?: number): Promise<ClosingServer> {
  const received: string[] = []
  const answered: string[] = []
  const closedIdleAfterMs: number[] = []
  const sockets = new Set<Socket>()
  const track = (s: Socket) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
    s.on('error', () => undefined)
  }
  const answerFirst = (socket: Socket, request: string) => {
    if (relayTo === undefined) {
      const body = `answered ${answered.length}\n`
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`)
      return
    }
    const server = connect(relayTo, '127.0.0.1')
    track(server)
    server.write(request)
    server.pipe(socket, { end: false })
    socket.once('close', () => server.destroy())
  }
  const listener = createServer((socket) => {
    track(socket)
    let buffered = ''
    let requests = 0
    let answeredAt: number | undefined
    socket.on('end', () => {
      if (requests === 1 && answeredAt !== undefined) closedIdleAfterMs.push(Date.now() - answeredAt)
    })
    socket.on('data', (d) => {
      buffered += d.toString('latin1')
      let end: number
      while ((end = buffered.indexOf('\r\n\r\n')) !== -1) {
        const request = buffered.slice(0, end + 4)
        buffered = buffered.slice(end + 4)
        const requestLine = request.slice(0, request.indexOf('\r\n'))
        received.push(requestLine)
        if (++requests > 1) {
          if (close === 'rst') socket.resetAndDestroy()
          else socket.destroy()
          return
        }
        answered.push(requestLine)
        answerFirst(socket, request)
        answeredAt = Date.now()
      }
    })
  })
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve))
  const port = (listener.address() as AddressInfo).port
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    received,
    answered,
    closedIdleAfterMs,
    stop: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy()
        listener.close(() => resolve())
      }),
  }
}
