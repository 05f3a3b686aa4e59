import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bearer, chat, echoClient, grpc, say, startGrpcUpstream } from '../support/grpc-upstream.js'
import { startPostern, type PosternProcess } from '../support/server.js'
import { createUser, signInUser } from '../support/sign-in.js'
import { freePort } from '../support/ports.js'
import { lastProbe } from '../support/eventually.js'


/** A real gRPC service (grpc-js, h2c) behind the gateway, called by a real grpc-js client. */
describe('gRPC through the gateway', () => {
  let p: PosternProcess
  let upstream: Awaited<ReturnType<typeof startGrpcUpstream>>
  let ann: string
  let client: ReturnType<typeof echoClient>

  beforeAll(async () => {
    upstream = await startGrpcUpstream()
    p = await startPostern()
    const created = await p.cli(['services', 'create', 'greeter', `--upstream=${upstream.url}`, '--use-http2', '--format=json'])
    expect(created.code, created.stderr).toBe(0)
    expect(JSON.parse(created.stdout)).toMatchObject({ useHttp2: true })
    await createUser(p, 'ann@example.com', 'ann-password-123')
    ann = (await signInUser(p, 'ann@example.com', 'ann-password-123')).idToken
    client = echoClient(`127.0.0.1:${p.gatewayPort}`, `greeter.my-project.localhost:${p.gatewayPort}`)
  })
  afterAll(async () => {
    client?.close()
    await Promise.all([p?.stop(), upstream?.close()])
  })

  it('describes the service as HTTP/2 and can turn it off and on again', async () => {
    const off = await p.cli(['services', 'update', 'greeter', '--no-use-http2', '--format=json'])
    expect(JSON.parse(off.stdout)).toMatchObject({ useHttp2: false })
    const on = await p.cli(['services', 'update', 'greeter', '--use-http2', '--format=json'])
    expect(JSON.parse(on.stdout)).toMatchObject({ useHttp2: true })
    const described = await p.cli(['services', 'describe', 'greeter'])
    expect(described.stdout).toMatch(/useHttp2: true/)
  })

  it('a call without a token is UNAUTHENTICATED, with the gateway’s message', async () => {
    const r = await say(client, 'hi', bearer(undefined))
    expect(r).toMatchObject({ ok: false, code: grpc.status.UNAUTHENTICATED })
    expect(!r.ok && r.details).toMatch(/^Authentication required: send an ID token/)
    const bad = await say(client, 'hi', bearer('not.a.token'))
    expect(bad).toMatchObject({ ok: false, code: grpc.status.UNAUTHENTICATED })
    expect(!bad.ok && bad.details).toMatch(/^Invalid ID token/)
  })

  it('is PERMISSION_DENIED before the grant, OK after it, PERMISSION_DENIED again within a second of revoking it', async () => {
    const denied = await say(client, 'hi', bearer(ann))
    expect(denied).toMatchObject({ ok: false, code: grpc.status.PERMISSION_DENIED })
    expect(!denied.ok && denied.details).toContain("Permission 'run.routes.invoke' denied for user:ann@example.com on projects/my-project/services/greeter")
    expect(upstream.seen).toHaveLength(0)

    expect((await p.cli(['services', 'add-iam-policy-binding', 'greeter', '--member=user:ann@example.com', '--role=roles/run.invoker'])).code).toBe(0)
    const allowed = await lastProbe(1_000, () => say(client, 'hi', bearer(ann)), (r) => r.ok)
    expect(allowed).toEqual({ ok: true, text: 'echo: hi', trailers: expect.objectContaining({ 'x-upstream-trailer': 'kept' }) })

    const revoked = await p.cli(['services', 'remove-iam-policy-binding', 'greeter', '--member=user:ann@example.com', '--role=roles/run.invoker'])
    expect(revoked.code).toBe(0)
    const started = Date.now()
    const after = await lastProbe(2_000, () => say(client, 'hi', bearer(ann)), (r) => !r.ok)
    expect(after).toMatchObject({ ok: false, code: grpc.status.PERMISSION_DENIED })
    expect(Date.now() - started).toBeLessThan(1_000)
    expect((await p.cli(['services', 'add-iam-policy-binding', 'greeter', '--member=user:ann@example.com', '--role=roles/run.invoker'])).code).toBe(0)
    await lastProbe(1_000, () => say(client, 'hi', bearer(ann)), (r) => r.ok)
  })

  it('the upstream sees the caller’s identity and no usable token', async () => {
    upstream.seen.length = 0
    expect(await say(client, 'who', bearer(ann))).toMatchObject({ ok: true })
    const md = upstream.seen.at(-1)!.metadata
    expect(md['x-postern-authenticated-email']).toBe('ann@example.com')
    expect(md['x-postern-authenticated-principal']).toBe('user:ann@example.com')
    expect(md['x-postern-jwt-assertion']).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/)
    expect(md.authorization).toMatch(/\.SIGNATURE_REMOVED_BY_POSTERN$/)
    expect(md.authorization).not.toContain(ann.split('.')[2])
  })

  it('relays an upstream’s gRPC error (status and message in trailers) as it was', async () => {
    expect(await say(client, 'fail', bearer(ann))).toEqual({ ok: false, code: grpc.status.FAILED_PRECONDITION, details: 'the upstream says no' })
  })

  it('streams both ways: a bidirectional call echoes each message as it is sent', async () => {
    const texts = Array.from({ length: 20 }, (_, i) => `message ${i}`)
    const r = await chat(client, texts, bearer(ann))
    expect(r).toEqual({ echoes: texts.map((t) => `echo: ${t}`), code: grpc.status.OK, details: 'OK' })
  })

  it('an open stream is reset within a second of its caller losing access, as a WebSocket is closed', async () => {
    const call = client.Chat(bearer(ann), { deadline: Date.now() + 20_000 })
    const echoes: string[] = []
    call.on('data', (m: { text: string }) => echoes.push(m.text))
    call.on('error', () => undefined)
    const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve))
    call.write({ text: 'before' })
    const deadline = Date.now() + 5_000
    while (echoes.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    expect(echoes).toEqual(['echo: before'])
    expect((await p.cli(['services', 'remove-iam-policy-binding', 'greeter', '--member=user:ann@example.com', '--role=roles/run.invoker'])).code).toBe(0)
    const removed = Date.now()
    const ended = await Promise.race([status, new Promise<undefined>((r) => setTimeout(() => r(undefined), 5_000))])
    expect(ended?.code).toBe(grpc.status.CANCELLED)
    expect(Date.now() - removed).toBeLessThan(1_500)
    expect((await p.cli(['services', 'add-iam-policy-binding', 'greeter', '--member=user:ann@example.com', '--role=roles/run.invoker'])).code).toBe(0)
    await lastProbe(1_000, () => say(client, 'hi', bearer(ann)), (r) => r.ok)
  })

  it('an unknown service is NOT_FOUND and an unreachable upstream UNAVAILABLE', async () => {
    const nowhere = echoClient(`127.0.0.1:${p.gatewayPort}`, `nothing.my-project.localhost:${p.gatewayPort}`)
    expect(await say(nowhere, 'hi', bearer(ann))).toMatchObject({ ok: false, code: grpc.status.NOT_FOUND })
    nowhere.close()
    const closedPort = await freePort()
    expect((await p.cli(['services', 'create', 'gone', `--upstream=http://127.0.0.1:${closedPort}`, '--use-http2', '--allow-unauthenticated'])).code).toBe(0)
    const gone = echoClient(`127.0.0.1:${p.gatewayPort}`, `gone.my-project.localhost:${p.gatewayPort}`)
    const r = await lastProbe(1_000, () => say(gone, 'hi', bearer(undefined)), (x) => !x.ok && x.code !== grpc.status.NOT_FOUND)
    expect(r).toMatchObject({ ok: false, code: grpc.status.UNAVAILABLE })
    expect(!r.ok && r.details).toMatch(/The upstream of projects\/my-project\/services\/gone is unreachable \(ECONNREFUSED\)/)
    gone.close()
  })
})
