import { randomBytes } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventually } from '../support/eventually.js'
import { curl } from '../support/curl.js'
import { rawGet, rawRequest } from '../support/raw-http.js'
import { DATA_PLANES, startPostern, type PosternProcess } from '../support/server.js'
import { createUser, signInUser } from '../support/sign-in.js'
import { startUpstream } from '../support/upstream.js'

interface Dribble { status: Promise<{ data: string; ms: number }>; stop(): void }

/** Sends `head`, then one byte of body every `everyMs` forever; resolves with what came back when the server closes. */
function dribble(port: number, head: string, everyMs = 300): Dribble {
  const socket = connect(port, '127.0.0.1')
  const started = Date.now()
  let data = ''
  socket.on('data', (d: Buffer) => (data += d.toString('latin1')))
  socket.on('error', () => undefined)
  socket.write(head)
  const drip = setInterval(() => socket.writable && socket.write('x'), everyMs)
  const status = new Promise<{ data: string; ms: number }>((resolve) =>
    socket.on('close', () => {
      clearInterval(drip)
      resolve({ data, ms: Date.now() - started })
    }),
  )
  return { status, stop: () => (clearInterval(drip), socket.destroy()) }
}

/** Slow clients and too many connections: a dribbled body must not hold a connection for good, and connections are capped. */
describe.each(DATA_PLANES)('slow bodies and connection caps (%s data plane)', (dataPlane) => {
  let p: PosternProcess
  let upstream: Awaited<ReturnType<typeof startUpstream>>
  let token: string
  let host: string
  const honest = () => rawGet(p.gatewayPort, host, [`Authorization: Bearer ${token}`])
  const open: Socket[] = []

  beforeAll(async () => {
    upstream = await startUpstream()
    p = await startPostern({ dataPlane, args: ['--max-connections', '40'] })
    expect((await p.cli(['services', 'create', 'slow', `--upstream=${upstream.url}`, '--timeout=2'])).code).toBe(0)
    await createUser(p, 'ann@example.com', 'ann-password-123')
    expect((await p.cli(['services', 'add-iam-policy-binding', 'slow', '--member=user:ann@example.com', '--role=roles/run.invoker'])).code).toBe(0)
    token = (await signInUser(p, 'ann@example.com', 'ann-password-123')).idToken
    host = `slow.my-project.localhost:${p.gatewayPort}`
  })
  afterAll(async () => {
    for (const s of open) s.destroy()
    await Promise.all([p?.stop(), upstream?.close()])
  })

  it.runIf(dataPlane === 'node')('a body dribbled to the gateway is cut off with 408 within the service’s timeout, and others are served meanwhile', async () => {
    const slow = dribble(p.gatewayPort, `POST /upload HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${token}\r\nContent-Length: 100000\r\n\r\n`)
    expect((await honest()).status).toBe(200)
    const { data, ms } = await Promise.race([slow.status, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('still open after 10 s')), 10_000))]).finally(slow.stop)
    expect(data).toMatch(/^HTTP\/1\.1 408 /)
    expect(ms).toBeLessThan(5_000)
  }, 20_000)

  // nginx times the pauses in a body, not the whole of it (README, "Two data planes"): a body that
  // stops arriving for the service's timeout ends the request, with no answer (nginx's own way).
  it.runIf(dataPlane === 'nginx')('a body that stops arriving for the service’s timeout is cut off, and others are served meanwhile', async () => {
    const stalled = dribble(p.gatewayPort, `POST /upload HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${token}\r\nContent-Length: 100000\r\n\r\nxxxx`, 60_000)
    expect((await honest()).status).toBe(200)
    const { data, ms } = await Promise.race([stalled.status, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('still open after 10 s')), 10_000))]).finally(stalled.stop)
    expect(data).toBe('')
    expect(ms).toBeGreaterThanOrEqual(1_900)
    expect(ms).toBeLessThan(4_000)
  }, 20_000)

  it('tells a keep-alive client how long an idle connection is kept (Keep-Alive: timeout=5), and keeps to it', async () => {
    // A client that reads the header (undici, so Node's fetch and postern services proxy) closes
    // an idle connection before the gateway does, and so never reuses one the gateway is closing.
    const started = Date.now()
    const r = await rawRequest(p.gatewayPort, `GET /echo HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${token}\r\n\r\n`, 10_000)
    const idle = Date.now() - started
    expect(r.status).toBe(200)
    expect(r.head).toMatch(/^keep-alive: timeout=5$/im)
    expect(idle).toBeGreaterThan(4_500)
    expect(idle).toBeLessThan(8_000)
  }, 15_000)

  it('a refused request ends its connection with the answer instead of waiting for its body', async () => {
    const slow = dribble(p.gatewayPort, `POST /upload HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer not.a.token\r\nContent-Length: 100000\r\n\r\n`)
    const { data, ms } = await Promise.race([slow.status, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('still open after 5 s')), 5_000))]).finally(slow.stop)
    expect(data).toMatch(/^HTTP\/1\.1 401 /)
    // The gateway lingers a second; nginx one to two (it counts whole seconds), and notices the
    // time is up at the next byte that comes (one every 300 ms here).
    expect(ms).toBeLessThan(dataPlane === 'nginx' ? 3_000 : 2_000)
  })

  it('asks for a body (100 Continue) only once the request is to be forwarded: curl sends a refused upload no byte of its body', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'postern-continue-')), 'upload.bin')
    writeFileSync(file, randomBytes(3 * 1024 * 1024))
    // curl asks for 100 Continue before a body over 1 MB.
    const upload = (auth: string[]) => curl(['-o', '/dev/null', '-w', '%{http_code} %{size_upload}', ...auth, '-H', `Host: ${host}`, '--data-binary', `@${file}`, `http://127.0.0.1:${p.gatewayPort}/upload`])
    const refused = await upload(['-H', 'Authorization: Bearer not.a.token'])
    expect(refused.stdout, refused.stderr).toBe('401 0')
    const allowed = await upload(['-H', `Authorization: Bearer ${token}`])
    expect(allowed.stdout, allowed.stderr).toBe(`200 ${3 * 1024 * 1024}`)
    // No 100 Continue before the answer to a refused request; one before an allowed request's.
    const first = async (auth: string) => (await rawRequest(p.gatewayPort, `POST /upload HTTP/1.1\r\nHost: ${host}\r\n${auth}Expect: 100-continue\r\nContent-Length: 5\r\n\r\n`, 1_500)).raw.split('\r\n')[0]
    expect(await first('Authorization: Bearer not.a.token\r\n')).toMatch(/^HTTP\/1\.1 401 /)
    expect(await first(`Authorization: Bearer ${token}\r\n`)).toBe('HTTP/1.1 100 Continue')
  })

  // The control plane is Postern's own whichever the data plane: tested once.
  it.runIf(dataPlane === 'node')('a body dribbled to the control plane is cut off within 30 s', async () => {
    const slow = dribble(p.controlPort, `POST /oauth2/token HTTP/1.1\r\nHost: 127.0.0.1:${p.controlPort}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\n`, 1_000)
    const { data, ms } = await Promise.race([slow.status, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('still open after 40 s')), 40_000))]).finally(slow.stop)
    // Node's request timeout ends the body mid-way: the handler answers for the broken body, or Node with 408.
    expect(data).toMatch(/^HTTP\/1\.1 4\d\d /)
    expect(ms).toBeLessThan(35_000)
    expect((await fetch(`${p.controlUrl}/healthz`)).status).toBe(200)
  }, 60_000)

  // nginx's cap is each worker's (worker_connections, its own connections beside): at the limit it
  // closes idle connections to make room for a new one, rather than the new one.
  it.runIf(dataPlane === 'nginx')('nginx holds at most --max-connections per worker, closing idle ones, and serves a new caller', async () => {
    const perWorker = 40 + 16
    const idle: Socket[] = []
    let closedByNginx = 0
    for (let i = 0; i < 4 * perWorker; i++) {
      const s = connect(p.gatewayPort, '127.0.0.1')
      s.on('error', () => undefined)
      s.once('close', () => closedByNginx++)
      await new Promise((r) => s.once('connect', r))
      idle.push(s)
      open.push(s)
    }
    expect((await honest()).status).toBe(200)
    await eventually(2_000, () => idle.length - closedByNginx <= availableParallelism() * perWorker, 'nginx to close the idle connections beyond its cap')
    expect(closedByNginx).toBeGreaterThan(0)
    for (const s of open.splice(0)) s.destroy()
  })

  it.runIf(dataPlane === 'node').each(['gateway', 'control'] as const)('the %s plane closes connections beyond --max-connections at once, and serves again when they go', async (plane) => {
    const port = plane === 'gateway' ? p.gatewayPort : p.controlPort
    for (let i = 0; i < 40; i++) {
      const s = connect(port, '127.0.0.1')
      s.on('error', () => undefined)
      await new Promise((r) => s.once('connect', r))
      open.push(s)
    }
    await new Promise((r) => setTimeout(r, 200))
    const extra = connect(port, '127.0.0.1')
    extra.on('error', () => undefined)
    const closedAt = await new Promise<number>((resolve) => {
      const started = Date.now()
      extra.once('close', () => resolve(Date.now() - started))
      extra.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n')
    })
    expect(closedAt).toBeLessThan(1_000)
    for (const s of open.splice(0)) s.destroy()
    await new Promise((r) => setTimeout(r, 200))
    if (plane === 'gateway') expect((await honest()).status).toBe(200)
    else expect((await fetch(`${p.controlUrl}/healthz`)).status).toBe(200)
  })
})
