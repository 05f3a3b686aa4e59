import WebSocket from 'ws'
import { describe, expect, it } from 'vitest'
import { DATA_PLANES, startPostern } from '../support/server.js'
import { createUser, signInUser } from '../support/sign-in.js'
import { startUpstream } from '../support/upstream.js'

/**
 * SIGTERM ends `postern serve` promptly, open WebSockets and all: an upgraded socket is no
 * connection Node's closeAllConnections ends, and the server's close waits for it, so the tunnels
 * are closed first. An orchestrator would otherwise wait out its grace period and SIGKILL.
 */
describe.each(DATA_PLANES)('shutting down with a WebSocket open (%s data plane)', (dataPlane) => {
  it('exits within seconds of SIGTERM, closing the open WebSocket', async () => {
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
      const started = Date.now()
      await p.stop('SIGTERM')
      expect(Date.now() - started).toBeLessThan(5_000)
      await closed
    } finally {
      await p.stop('SIGKILL')
      await upstream.close()
    }
  }, 60_000)
})
