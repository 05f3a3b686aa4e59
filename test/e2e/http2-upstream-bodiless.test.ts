import { Client } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FLAG, FRAME, frame, rawH2Upstream } from '../support/h2-frames.js'
import { startPostern, type PosternProcess } from '../support/server.js'

/** `:status: 204` from HPACK's static table (RFC 7541 appendix A, index 9). */
const STATUS_204 = Buffer.from([0x80 | 9])

/**
 * An HTTP/2 upstream whose 204 never ends its stream (HEADERS without END_STREAM, then nothing;
 * found by http2-fuzz.test.ts with seed 12). An HTTP/1.1 caller takes a 204 as whole with its
 * head and sends its next request on the same connection; the gateway piped the stream, which
 * never ended, so the connection stayed the 204's and the next request waited behind it for ever.
 */
describe('an HTTP/2 upstream whose 204 never ends its stream', () => {
  let p: PosternProcess
  let upstream: Awaited<ReturnType<typeof rawH2Upstream>>
  let token: string

  beforeAll(async () => {
    // Raw frames: SETTINGS, its ACK, and a bare 204 head for every request.
    upstream = await rawH2Upstream((stream) => frame(FRAME.HEADERS, FLAG.END_HEADERS, stream, STATUS_204))
    p = await startPostern()
    expect((await p.cli(['services', 'create', 'bodiless', `--upstream=${upstream.url}`, '--use-http2', '--timeout=2'])).code).toBe(0)
    token = await p.ownerIdToken()
  })
  afterAll(async () => {
    await p?.stop()
    await upstream?.close()
  })

  it('an HTTP/1.1 caller gets each 204 and its next request answered on the same connection', async () => {
    // One connection; 3 s for each answer, beyond the service's timeout (2 s).
    const client = new Client(`http://127.0.0.1:${p.gatewayPort}`, { headersTimeout: 3_000, bodyTimeout: 3_000 })
    const headers = { host: `bodiless.my-project.localhost:${p.gatewayPort}`, authorization: `Bearer ${token}` }
    let connections = 0
    client.on('connect', () => connections++)
    try {
      const statuses: (number | string)[] = []
      // A HEAD goes last: Node ends the connection after a HEAD's answer that has no length.
      for (const method of ['POST', 'GET', 'GET', 'HEAD'] as const) {
        const r = await client.request({ method, path: '/', headers, body: method === 'POST' ? 'x' : undefined }).catch((err: NodeJS.ErrnoException) => err.code ?? String(err))
        if (typeof r === 'string') statuses.push(r)
        else {
          statuses.push(r.statusCode)
          await r.body.dump()
        }
      }
      expect(statuses).toEqual([204, 204, 204, 204])
      expect(connections).toBe(1)
    } finally {
      await client.close()
    }
  })
})
