import type { ChildProcess } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { curl } from '../support/curl.js'
import { bearer, chat, echoClient, grpc, say, startGrpcUpstream } from '../support/grpc-upstream.js'
import { startPostern, type PosternProcess } from '../support/server.js'
import { startServicesProxy } from '../support/services-proxy.js'
import { createUser, signInUser } from '../support/sign-in.js'
import { lastProbe } from '../support/eventually.js'


const issuedAt = (authorization: string | undefined) => (JSON.parse(Buffer.from(authorization!.split('.')[1]!, 'base64url').toString()) as { iat: number }).iat

/**
 * `postern services proxy` in front of a private gRPC service: a grpc-js client with insecure
 * credentials and no token reaches it as the signed-in developer. ID tokens live 6 s here, so
 * the proxy renews them during the test.
 */
describe('gRPC through postern services proxy', () => {
  let p: PosternProcess
  let upstream: Awaited<ReturnType<typeof startGrpcUpstream>>
  let proxy: ChildProcess
  let port: number
  let client: ReturnType<typeof echoClient>

  beforeAll(async () => {
    upstream = await startGrpcUpstream()
    p = await startPostern({ args: ['--id-token-ttl', '6s'] })
    expect((await p.cli(['services', 'create', 'greeter', `--upstream=${upstream.url}`, '--use-http2'])).code).toBe(0)
    await createUser(p, 'ann@example.com', 'ann-password-123')
    const ann = await signInUser(p, 'ann@example.com', 'ann-password-123')
    ;({ port, process: proxy } = await startServicesProxy('greeter', ann.configDir))
    client = echoClient(`127.0.0.1:${port}`)
  }, 30_000)
  afterAll(async () => {
    client?.close()
    proxy?.kill('SIGTERM')
    await Promise.all([p?.stop(), upstream?.close()])
  })

  it('is PERMISSION_DENIED before the grant, OK after it (unary and streaming), denied again within a second of revoking', async () => {
    const denied = await say(client, 'hi', bearer(undefined))
    expect(denied).toMatchObject({ ok: false, code: grpc.status.PERMISSION_DENIED })
    expect(!denied.ok && denied.details).toContain("denied for user:ann@example.com on projects/my-project/services/greeter")

    expect((await p.cli(['services', 'add-iam-policy-binding', 'greeter', '--member=user:ann@example.com', '--role=roles/run.invoker'])).code).toBe(0)
    expect(await lastProbe(1_000, () => say(client, 'hi', bearer(undefined)), (r) => r.ok)).toMatchObject({ ok: true, text: 'echo: hi' })
    const md = upstream.seen.at(-1)!.metadata
    expect(md['x-postern-authenticated-email']).toBe('ann@example.com')
    // The proxy's token travels in X-Serverless-Authorization, signature removed; the app's own Authorization passes untouched.
    expect(md['x-serverless-authorization']).toMatch(/\.SIGNATURE_REMOVED_BY_POSTERN$/)
    const texts = ['one', 'two', 'three']
    expect(await chat(client, texts, new grpc.Metadata())).toEqual({ echoes: texts.map((t) => `echo: ${t}`), code: grpc.status.OK, details: 'OK' })

    expect((await p.cli(['services', 'remove-iam-policy-binding', 'greeter', '--member=user:ann@example.com', '--role=roles/run.invoker'])).code).toBe(0)
    const started = Date.now()
    expect(await lastProbe(2_000, () => say(client, 'hi', bearer(undefined)), (r) => !r.ok)).toMatchObject({ ok: false, code: grpc.status.PERMISSION_DENIED })
    expect(Date.now() - started).toBeLessThan(1_000)
    expect((await p.cli(['services', 'add-iam-policy-binding', 'greeter', '--member=user:ann@example.com', '--role=roles/run.invoker'])).code).toBe(0)
    await lastProbe(1_000, () => say(client, 'hi', bearer(undefined)), (r) => r.ok)
  }, 30_000)

  it('a bidirectional stream outlives the token it opened with, and later calls carry a renewed token', async () => {
    upstream.seen.length = 0
    const first = await say(client, 'first', bearer(undefined))
    expect(first.ok).toBe(true)
    const firstIat = issuedAt(upstream.seen.at(-1)!.metadata['x-serverless-authorization'])
    // One message a second for 9 s: longer than the 6 s lifetime of the token the stream opened with.
    const texts = Array.from({ length: 9 }, (_, i) => `tick ${i}`)
    const call = client.Chat(new grpc.Metadata(), { deadline: Date.now() + 30_000 })
    const echoes: string[] = []
    call.on('data', (m: { text: string }) => echoes.push(m.text))
    const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve))
    call.on('error', () => undefined)
    for (const text of texts) {
      call.write({ text })
      await new Promise((r) => setTimeout(r, 1_000))
    }
    call.end()
    expect((await status).code).toBe(grpc.status.OK)
    expect(echoes).toEqual(texts.map((t) => `echo: ${t}`))
    const later = await say(client, 'later', bearer(undefined))
    expect(later.ok).toBe(true)
    expect(issuedAt(upstream.seen.at(-1)!.metadata['x-serverless-authorization'])).toBeGreaterThan(firstIat)
  }, 30_000)

  it('curl --http2-prior-knowledge reaches the service through the proxy; another Host is refused', async () => {
    const r = await curl(['--http2-prior-knowledge', '-o', '/dev/null', '-w', '%{http_version} %{http_code}', '-H', 'content-type: application/grpc', '-H', 'te: trailers', '--data-binary', '', `http://127.0.0.1:${port}/postern.test.Echo/Say`])
    expect(r.stdout).toBe('2 200')
    const evil = await curl(['--http2-prior-knowledge', '-o', '/dev/null', '-w', '%{http_code}', '--connect-to', `evil.example:${port}:127.0.0.1:${port}`, `http://evil.example:${port}/`])
    expect(evil.stdout).toBe('403')
    const plain = await curl(['--http1.1', '-o', '/dev/null', '-w', '%{http_version} %{http_code}', `http://127.0.0.1:${port}/postern.test.Echo/Say`])
    expect(plain.stdout).toMatch(/^1\.1 /)
  })
})
