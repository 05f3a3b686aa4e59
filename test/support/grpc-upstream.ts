import { fileURLToPath } from 'node:url'
import * as grpc from '@grpc/grpc-js'
import * as protoLoader from '@grpc/proto-loader'

export const ECHO_PROTO = fileURLToPath(new URL('./echo.proto', import.meta.url))

export interface Msg {
  text: string
}

/** What the upstream received with a call: its method and metadata (the headers the gateway sent). */
export interface GrpcSeen {
  method: string
  metadata: Record<string, string>
  /** The caller's address and port: one per connection. */
  peer: string
}

type EchoClient = grpc.Client & {
  Say(m: Msg, md: grpc.Metadata, o: grpc.CallOptions, cb: (err: grpc.ServiceError | null, r?: Msg) => void): grpc.ClientUnaryCall
  Chat(md: grpc.Metadata, o?: grpc.CallOptions): grpc.ClientDuplexStream<Msg, Msg>
}

function echoService() {
  const def = protoLoader.loadSync(ECHO_PROTO, { keepCase: true })
  const pkg = grpc.loadPackageDefinition(def) as unknown as { postern: { test: { Echo: grpc.ServiceClientConstructor } } }
  return pkg.postern.test.Echo
}

/**
 * A real gRPC server (grpc-js, h2c): `Say` answers `echo: TEXT` with a trailer
 * `x-upstream-trailer: kept`, or fails with FAILED_PRECONDITION when TEXT is `fail`; `Chat`
 * echoes every message of a bidirectional stream. Each call's metadata and peer are recorded.
 * With `maxConnectionAgeMs` it retires each connection that old (GOAWAY, then a grace period for
 * its calls), as servers behind load balancers are told to (grpc-go's MaxConnectionAge).
 */
export async function startGrpcUpstream(o: { maxConnectionAgeMs?: number } = {}): Promise<{ port: number; url: string; seen: GrpcSeen[]; close(): Promise<void> }> {
  const seen: GrpcSeen[] = []
  const record = (method: string, call: { metadata: grpc.Metadata; getPeer(): string }) =>
    seen.push({ method, metadata: Object.fromEntries(Object.entries(call.metadata.getMap()).map(([k, v]) => [k, String(v)])), peer: call.getPeer() })
  const server = new grpc.Server(o.maxConnectionAgeMs ? { 'grpc.max_connection_age_ms': o.maxConnectionAgeMs, 'grpc.max_connection_age_grace_ms': 10_000 } : {})
  server.addService(echoService().service, {
    Say(call: grpc.ServerUnaryCall<Msg, Msg>, callback: grpc.sendUnaryData<Msg>) {
      record('Say', call)
      if (call.request.text === 'fail') {
        callback({ code: grpc.status.FAILED_PRECONDITION, details: 'the upstream says no' })
        return
      }
      const trailer = new grpc.Metadata()
      trailer.set('x-upstream-trailer', 'kept')
      callback(null, { text: `echo: ${call.request.text}` }, trailer)
    },
    Chat(call: grpc.ServerDuplexStream<Msg, Msg>) {
      record('Chat', call)
      call.on('data', (m: Msg) => call.write({ text: `echo: ${m.text}` }))
      call.on('end', () => call.end())
    },
  })
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))))
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  }
}

/**
 * A gRPC client of the echo service at `address` (host:port it connects to), sending `authority`
 * as `:authority` — the service's host name, which Node cannot resolve under `.localhost`. Over
 * TLS (h2 by ALPN) when given the CA certificate to trust, else h2c with prior knowledge.
 */
export function echoClient(address: string, authority?: string, ca?: Buffer): EchoClient {
  const Echo = echoService()
  return new Echo(address, ca ? grpc.credentials.createSsl(ca) : grpc.credentials.createInsecure(), authority ? { 'grpc.default_authority': authority } : {}) as unknown as EchoClient
}

export function bearer(token: string | undefined): grpc.Metadata {
  const md = new grpc.Metadata()
  if (token) md.set('authorization', `Bearer ${token}`)
  return md
}

/** One unary call; resolves with the answer, its trailers, or the error (never rejects). */
export function say(client: EchoClient, text: string, md: grpc.Metadata): Promise<{ ok: true; text: string; trailers: Record<string, string> } | { ok: false; code: number; details: string }> {
  return new Promise((resolve) => {
    let answer: { err: grpc.ServiceError | null; r?: Msg } | undefined
    let trailers: Record<string, string> | undefined
    // The callback and the status (with the trailers) come in either order: resolve on both.
    const settle = () => {
      if (!answer || !trailers) return
      if (answer.err) resolve({ ok: false, code: answer.err.code, details: answer.err.details })
      else resolve({ ok: true, text: answer.r!.text, trailers })
    }
    const call = client.Say({ text }, md, { deadline: Date.now() + 10_000 }, (err, r) => {
      answer = { err, r }
      settle()
    })
    call.on('status', (s: grpc.StatusObject) => {
      trailers = Object.fromEntries(Object.entries(s.metadata.getMap()).map(([k, v]) => [k, String(v)]))
      settle()
    })
  })
}

/** A bidirectional stream: sends each text in turn, waiting for its echo; resolves with the echoes and the final status. */
export async function chat(client: EchoClient, texts: string[], md: grpc.Metadata): Promise<{ echoes: string[]; code: number; details: string }> {
  const call = client.Chat(md, { deadline: Date.now() + 20_000 })
  const echoes: string[] = []
  const waiting: ((m: Msg | undefined) => void)[] = []
  call.on('data', (m: Msg) => {
    echoes.push(m.text)
    waiting.shift()?.(m)
  })
  const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve))
  call.on('error', () => undefined)
  for (const text of texts) {
    const next = new Promise<Msg | undefined>((resolve) => {
      waiting.push(resolve)
      void status.then(() => resolve(undefined))
    })
    call.write({ text })
    if (!(await next)) break
  }
  call.end()
  const s = await status
  return { echoes, code: s.code, details: s.details }
}

export { grpc }
