import { connect } from 'node:net'
import WebSocket from 'ws'
import { describe, expect, it } from 'vitest'
import { DATA_PLANES, startPostern } from '../support/server.js'
import { createUser, signInUser } from '../support/sign-in.js'
import { rawRequest } from '../support/raw-http.js'
import { startUpstream } from '../support/upstream.js'

/** A connection that made one request and sits idle, kept alive, after its answer. */
async function keptAliveIdle(port: number, request: string): Promise<{ closedWithinMs(ms: number): Promise<boolean> }> {
  const socket = connect(port, '127.0.0.1')
  let data = ''
  const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  socket.on('error', () => undefined)
  await new Promise<void>((resolve) => {
    socket.on('data', (d: Buffer) => {
      data += d.toString('latin1')
      if (/\r\n\r\n/.test(data)) resolve()
    })
    socket.write(request)
  })
  return {
    closedWithinMs: (ms) => Promise.race([ended.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]).finally(() => socket.destroy()),
  }
}

/**
 * SIGTERM ends `postern serve` promptly, open WebSockets and all: an upgraded socket is no
 * connection Node's closeAllConnections ends, and the server's close waits for it, so the tunnels
 * are closed first. An orchestrator would otherwise wait out its grace period and SIGKILL.
 * Meanwhile a request in flight is answered (it was cut on the Node plane) and an idle
 * kept-alive connection is closed, and the log says it is stopping and when it has stopped.
 */
describe.each(DATA_PLANES)('shutting down with a WebSocket open (%s data plane)', (dataPlane) => {
  it('exits within seconds of SIGTERM, closing the open WebSocket and idle connections, answering the request in flight', async () => {
    const upstream = await startUpstream()
    const p = await startPostern({ dataPlane })
    try {
      expect((await p.cli(['services', 'create', 'chat', `--upstream=${upstream.url}`])).code).toBe(0)
      await createUser(p, 'ann@example.com', 'ann-password-123')
      expect((await p.cli(['services', 'add-iam-policy-binding', 'chat', '--member=user:ann@example.com', '--role=roles/run.invoker'])).code).toBe(0)
      const { idToken } = await signInUser(p, 'ann@example.com', 'ann-password-123')
      const ws = new WebSocket(`ws://127.0.0.1:${p.gatewayPort}/ws`, { headers: { host: `chat.my-project.localhost:${p.gatewayPort}`, authorization: `Bearer ${idToken}` } })
      await new Promise((resolve, reject) => {
        ws.once('open', resolve)
        ws.once('error', reject)
      })
      const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()))
      ws.on('error', () => undefined)
      const get = (path: string) => `GET ${path} HTTP/1.1\r\nHost: chat.my-project.localhost:${p.gatewayPort}\r\nAuthorization: Bearer ${idToken}\r\n\r\n`
      // A kept-alive connection, idle after its answer, and a request still in flight.
      const idle = await keptAliveIdle(p.gatewayPort, get('/echo'))
      const inFlight = rawRequest(p.gatewayPort, get('/slow?ms=1500'), 10_000)
      await new Promise((r) => setTimeout(r, 300))
      const started = Date.now()
      const stopped = p.stop('SIGTERM')
      // RFC 9112 §9.6, as nginx and Node's graceful close do: the idle connection closed at once,
      // the request in flight answered, saying it closes the connection, which then closes.
      expect(await idle.closedWithinMs(1_000)).toBe(true)
      const answered = await inFlight
      expect(answered).toMatchObject({ status: 200, body: 'slow', closed: true })
      expect(answered.head).toMatch(/\r\nConnection: close/i)
      await stopped
      expect(Date.now() - started).toBeLessThan(5_000)
      await closed
      expect(p.output()).toMatch(/"msg":"stopping: no new connections[^\n]*"signal":"SIGTERM"/)
      expect(p.output()).toContain('"msg":"stopped"')
    } finally {
      await p.stop('SIGKILL')
      await upstream.close()
    }
  }, 60_000)
})
