import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bearer, chat, echoClient, grpc, say, startGrpcUpstream } from '../support/grpc-upstream.js'
import { selfSignedCertificate } from '../support/self-signed.js'
import { DATA_PLANES, startPostern, type PosternProcess } from '../support/server.js'
import { freePort } from '../support/ports.js'
import { lastProbe } from '../support/eventually.js'

/**
 * A real gRPC service (grpc-js, h2c) behind the gateway, called by a real grpc-js client. The
 * Node gateway is called over h2c; the nginx data plane over TLS, the only way nginx 1.22 serves
 * HTTP/2 beside HTTP/1.1 on one port (it hands the streams to Postern's gateway over h2c).
 */
describe.each(DATA_PLANES)('gRPC through the gateway (%s data plane)', (dataPlane) => {
  let p: PosternProcess
  let upstream: Awaited<ReturnType<typeof startGrpcUpstream>>
  let ann: string
  let client: ReturnType<typeof echoClient>
  let connect: (service: string) => ReturnType<typeof echoClient>
  let cli: PosternProcess['cli']
  // The caller: a service account (its ID token comes from the CLI, which trusts the test CA under TLS).
  const ANN = 'ann-caller@my-project.iam.postern.internal'
  const member = `serviceAccount:${ANN}`

  beforeAll(async () => {
    const tls = dataPlane === 'nginx' ? selfSignedCertificate() : undefined
    const env = tls ? { NODE_EXTRA_CA_CERTS: tls.cert } : undefined
    upstream = await startGrpcUpstream()
    p = await startPostern({ dataPlane, ...(tls && { args: ['--tls-cert', tls.cert, '--tls-key', tls.key], env }) })
    cli = (args, o = {}) => p.cli(args, { ...o, env: { ...env, ...o.env } })
    const created = await cli(['services', 'create', 'greeter', `--upstream=${upstream.url}`, '--use-http2', '--format=json'])
    expect(created.code, created.stderr).toBe(0)
    expect(JSON.parse(created.stdout)).toMatchObject({ useHttp2: true })
    const account = await cli(['iam', 'service-accounts', 'create', 'ann-caller', '--format=json'])
    expect(JSON.parse(account.stdout)).toMatchObject({ email: ANN })
    ann = (await cli(['auth', 'print-identity-token', '--impersonate-service-account', ANN, '--include-email'])).stdout.trim()
    expect(ann).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/)
    const ca = tls && readFileSync(tls.cert)
    connect = (service) => echoClient(`127.0.0.1:${p.gatewayPort}`, `${service}.my-project.localhost:${p.gatewayPort}`, ca)
    client = connect('greeter')
  })
  afterAll(async () => {
    client?.close()
    await Promise.all([p?.stop(), upstream?.close()])
  })

  it('describes the service as HTTP/2 and can turn it off and on again', async () => {
    const off = await cli(['services', 'update', 'greeter', '--no-use-http2', '--format=json'])
    expect(JSON.parse(off.stdout)).toMatchObject({ useHttp2: false })
    const on = await cli(['services', 'update', 'greeter', '--use-http2', '--format=json'])
    expect(JSON.parse(on.stdout)).toMatchObject({ useHttp2: true })
    const described = await cli(['services', 'describe', 'greeter'])
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
    expect(!denied.ok && denied.details).toContain(`Permission 'run.routes.invoke' denied for ${member} on projects/my-project/services/greeter`)
    expect(upstream.seen).toHaveLength(0)

    expect((await cli(['services', 'add-iam-policy-binding', 'greeter', `--member=${member}`, '--role=roles/run.invoker'])).code).toBe(0)
    const allowed = await lastProbe(1_000, () => say(client, 'hi', bearer(ann)), (r) => r.ok)
    expect(allowed).toEqual({ ok: true, text: 'echo: hi', trailers: expect.objectContaining({ 'x-upstream-trailer': 'kept' }) })

    const revoked = await cli(['services', 'remove-iam-policy-binding', 'greeter', `--member=${member}`, '--role=roles/run.invoker'])
    expect(revoked.code).toBe(0)
    const started = Date.now()
    const after = await lastProbe(2_000, () => say(client, 'hi', bearer(ann)), (r) => !r.ok)
    expect(after).toMatchObject({ ok: false, code: grpc.status.PERMISSION_DENIED })
    expect(Date.now() - started).toBeLessThan(1_000)
    expect((await cli(['services', 'add-iam-policy-binding', 'greeter', `--member=${member}`, '--role=roles/run.invoker'])).code).toBe(0)
    await lastProbe(1_000, () => say(client, 'hi', bearer(ann)), (r) => r.ok)
  })

  it('the upstream sees the caller’s identity, address and authority, and no usable token or forged header', async () => {
    upstream.seen.length = 0
    const md0 = bearer(ann)
    md0.set('x-real-ip', '6.6.6.6')
    md0.set('x-forwarded-for', '6.6.6.6')
    md0.set('x-postern-authenticated-email', 'forged@example.com')
    expect(await say(client, 'who', md0)).toMatchObject({ ok: true })
    const md = upstream.seen.at(-1)!.metadata
    // The caller's address, also when nginx hands the stream over its Unix socket (X-Real-IP, set by nginx alone).
    expect(md['x-forwarded-for']).toBe('127.0.0.1')
    expect(md['x-real-ip']).toBeUndefined()
    expect(md['x-forwarded-host']).toBe(`greeter.my-project.localhost:${p.gatewayPort}`)
    expect(md['x-forwarded-proto']).toBe(dataPlane === 'nginx' ? 'https' : 'http')
    expect(md['x-postern-authenticated-email']).toBe(ANN)
    expect(md['x-postern-authenticated-principal']).toBe(member)
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
    expect((await cli(['services', 'remove-iam-policy-binding', 'greeter', `--member=${member}`, '--role=roles/run.invoker'])).code).toBe(0)
    const removed = Date.now()
    const ended = await Promise.race([status, new Promise<undefined>((r) => setTimeout(() => r(undefined), 5_000))])
    // nginx passes on the gateway's reset (CANCEL) as a reset of its own, INTERNAL_ERROR (RFC 9113 §7), which grpc-js reports as INTERNAL.
    expect(ended?.code).toBe(dataPlane === 'node' ? grpc.status.CANCELLED : grpc.status.INTERNAL)
    expect(Date.now() - removed).toBeLessThan(1_500)
    expect((await cli(['services', 'add-iam-policy-binding', 'greeter', `--member=${member}`, '--role=roles/run.invoker'])).code).toBe(0)
    await lastProbe(1_000, () => say(client, 'hi', bearer(ann)), (r) => r.ok)
  })

  it('an unknown service is NOT_FOUND and an unreachable upstream UNAVAILABLE', async () => {
    const nowhere = connect('nothing')
    expect(await say(nowhere, 'hi', bearer(ann))).toMatchObject({ ok: false, code: grpc.status.NOT_FOUND })
    nowhere.close()
    const closedPort = await freePort()
    expect((await cli(['services', 'create', 'gone', `--upstream=http://127.0.0.1:${closedPort}`, '--use-http2', '--allow-unauthenticated'])).code).toBe(0)
    const gone = connect('gone')
    const r = await lastProbe(1_000, () => say(gone, 'hi', bearer(undefined)), (x) => !x.ok && x.code !== grpc.status.NOT_FOUND)
    expect(r).toMatchObject({ ok: false, code: grpc.status.UNAVAILABLE })
    expect(!r.ok && r.details).toMatch(/The upstream of projects\/my-project\/services\/gone is unreachable \(ECONNREFUSED\)/)
    gone.close()
    // An HTTP/2 upstream of a service not marked useHttp2: said in the words an HTTP/1.1 caller gets.
    expect((await cli(['services', 'create', 'not-h2', `--upstream=${upstream.url}`, '--allow-unauthenticated'])).code).toBe(0)
    const notH2 = connect('not-h2')
    const broke = await lastProbe(1_000, () => say(notH2, 'hi', bearer(undefined)), (x) => !x.ok && x.code !== grpc.status.NOT_FOUND)
    expect(broke).toMatchObject({ ok: false, code: grpc.status.UNAVAILABLE })
    expect(!broke.ok && broke.details).toMatch(/is unreachable \(its answer broke HTTP\/1\.1: expected http\/, rtsp\/ or ice\/\)/)
    notH2.close()
  })
})
