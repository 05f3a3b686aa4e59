import type { ChildProcess } from 'node:child_process'
import { request } from 'undici'
import WebSocket from 'ws'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { converse, framedStatuses, resetUpgrade } from '../support/raw-http.js'
import { startPostern, type PosternProcess } from '../support/server.js'
import { startServicesProxy } from '../support/services-proxy.js'
import { startUpstream } from '../support/upstream.js'

/**
 * Node stops watching a socket for errors once it hands it over as an upgrade: a caller that
 * resets its connection as `postern services proxy` refuses its upgrade (a Host that is not the
 * proxy's own, DNS rebinding) or forwards it must not end the proxy; and one pipelined behind a
 * request still being answered is answered after it (the gateway's own cases are in
 * gateway-attacks.test.ts).
 */
describe('postern services proxy, when callers reset or pipeline their upgrades', () => {
  let p: PosternProcess
  let upstream: Awaited<ReturnType<typeof startUpstream>>
  let proxy: ChildProcess
  let local: string
  let port: number

  beforeAll(async () => {
    upstream = await startUpstream()
    p = await startPostern()
    expect((await p.cli(['services', 'create', 'hello', `--upstream=${upstream.url}`])).code).toBe(0)
    expect((await p.cli(['services', 'add-iam-policy-binding', 'hello', '--member=user:owner@example.com', '--role=roles/run.invoker'])).code).toBe(0)
    ;({ url: local, port, process: proxy } = await startServicesProxy('hello', p.configDir))
  })
  afterAll(async () => {
    proxy?.kill('SIGTERM')
    await p?.stop()
    await upstream?.close()
  })

  it('keeps serving', async () => {
    for (let i = 0; i < 200; i++) await resetUpgrade(port, i % 2 === 0 ? 'rebound.example' : `127.0.0.1:${port}`, i % 3)
    expect(proxy.exitCode).toBe(null)
    const r = await request(`${local}/echo`)
    expect(r.statusCode).toBe(200)
    await r.body.dump()
  })

  it('a Ctrl-C ends the proxy at once, and with it an open WebSocket (which carries the developer’s identity)', async () => {
    const own = await startServicesProxy('hello', p.configDir)
    const ws = new WebSocket(`ws://127.0.0.1:${own.port}/ws`)
    await new Promise((resolve, reject) => {
      ws.once('open', resolve)
      ws.once('error', reject)
    })
    const closed = new Promise((resolve) => ws.once('close', resolve))
    const exited = new Promise((resolve) => own.process.once('exit', resolve))
    const started = Date.now()
    own.process.kill('SIGINT')
    await Promise.all([closed, exited])
    expect(Date.now() - started).toBeLessThan(5_000)
  })

  it('answers an upgrade pipelined behind a request still being answered after it, in order', async () => {
    const host = `127.0.0.1:${port}`
    const slow = `GET /slow?ms=150 HTTP/1.1\r\nHost: ${host}\r\n\r\n`
    const websocket = `GET /ws HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`
    for (let i = 0; i < 3; i++) {
      const answer = await converse(port, [Buffer.from(slow + websocket)], (read) => framedStatuses(read).length >= 2)
      expect(framedStatuses(answer), answer.slice(0, 300)).toEqual([200, 101])
    }
  })
})
