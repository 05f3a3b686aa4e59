import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, writeFileSync, mkdirSync, readFileSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Agent, request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from '../support/ports.js'
import { startPostern, type PosternProcess } from '../support/server.js'
import { createUser, signInUser } from '../support/sign-in.js'
import { startUpstream } from '../support/upstream.js'
import { keptAliveCallers } from '../support/kept-alive-callers.js'
import { nginxHolds } from '../support/nginx-holds.js'
import { curl } from '../support/curl.js'
import { eventually } from '../support/eventually.js'
import { rawRequest } from '../support/raw-http.js'
import { bearer, echoClient, grpc, say } from '../support/grpc-upstream.js'
import { selfSignedCertificate } from '../support/self-signed.js'
import { nginxConfig } from '../../src/gateway/nginx/nginx-config.js'
import { shapeServices } from '../../src/gateway/nginx/nginx-shape.js'
import { DEBIAN_NGINX } from '../../src/gateway/nginx/nginx-process.js'
import { SYSTEM_CA_BUNDLE } from '../../src/gateway/nginx/upstream-trust.js'
import { TrustedProxies } from '../../src/http/client-address.js'

const refuses = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = connect(port, '127.0.0.1')
    s.once('connect', () => (s.destroy(), resolve(false)))
    s.once('error', () => resolve(true))
  })

/** nginx processes whose command line names `dir` (the data plane's own, by its configuration's path). */
const nginxFor = (dir: string) => spawnSync('pgrep', ['-f', `nginx: master process .*${dir}`]).stdout.toString().trim()

async function poll<T>(what: () => Promise<T> | T, until: (v: T) => boolean, ms: number): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const v = await what()
    if (until(v) || Date.now() > deadline) return v
    await new Promise((r) => setTimeout(r, 50))
  }
}

/**
 * `postern serve --data-plane nginx` as a process: nginx started as Postern's child on the
 * gateway port, reloaded without dropping a request when services change, never left behind, and
 * the failures said plainly; `postern nginx-config` for an nginx run by someone else, which fails
 * closed (503) when Postern cannot be reached.
 */
describe('the nginx data plane as a process', () => {
  let p: PosternProcess
  let upstream: Awaited<ReturnType<typeof startUpstream>>
  let token: string
  const host = (service: string) => `${service}.my-project.localhost:${p.gatewayPort}`
  const call = (port: number, service: string, path = '/echo', t = token) => request(`http://127.0.0.1:${port}${path}`, { headers: { host: host(service), authorization: `Bearer ${t}` } })

  beforeAll(async () => {
    upstream = await startUpstream()
    p = await startPostern({ dataPlane: 'nginx' })
    expect((await p.cli(['services', 'create', 'first', `--upstream=${upstream.url}`])).code).toBe(0)
    await createUser(p, 'ann@example.com', 'ann-password-123')
    expect((await p.cli(['services', 'add-iam-policy-binding', 'first', '--member=user:ann@example.com', '--role=roles/run.invoker'])).code).toBe(0)
    token = (await signInUser(p, 'ann@example.com', 'ann-password-123')).idToken
  })
  afterAll(async () => {
    await Promise.all([p?.stop(), upstream?.close()])
  })

  it('serves the gateway port through nginx, with the configuration in the data directory', async () => {
    const res = await call(p.gatewayPort, 'first')
    expect(res.statusCode).toBe(200)
    await res.body.dump()
    // nginx's spelling (Postern's gateway writes host): nginx forwarded it.
    expect(upstream.seen.at(-1)!.rawHeaders[0]).toBe('Host')
    expect(upstream.seen.at(-1)!.headers['x-postern-authenticated-email']).toBe('ann@example.com')
    expect(readFileSync(join(p.dataDir, 'nginx', 'nginx.conf'), 'utf8')).toContain('worker_processes auto;')
    expect(nginxFor(p.dataDir)).not.toBe('')
  })

  it('reloads nginx when services change, without dropping a request in flight', async () => {
    const slow = call(p.gatewayPort, 'first', '/slow?ms=1500')
    await new Promise((r) => setTimeout(r, 200))
    expect((await p.cli(['services', 'create', 'second', `--upstream=${upstream.url}`, '--timeout=9', '--allow-unauthenticated'])).code).toBe(0)
    const second = await poll(async () => {
      const r = await request(`http://127.0.0.1:${p.gatewayPort}/echo`, { headers: { host: host('second') } })
      await r.body.dump()
      return r.statusCode
    }, (s) => s === 200, 5_000)
    expect(second).toBe(200)
    // (Postern's gateway forwards it until nginx is reloaded with it.)
    const reloaded = await poll(() => readFileSync(join(p.dataDir, 'nginx', 'nginx.conf'), 'utf8'), (c) => c.includes('location @postern_t9 '), 5_000)
    expect(reloaded).toContain('location @postern_t9 ')
    // Logged, with why: a reload closes the idle kept-alive connections of the workers it retires.
    expect(p.output()).toMatch(/"msg":"reloading nginx[^\n]*"why":"a service's timeout under a minute that nginx has no location for \(9 s\)/)
    const done = await slow
    expect(done.statusCode).toBe(200)
    await done.body.dump()
  })

  it('creates, re-points and deletes plain-HTTP services without reloading nginx: callers on kept-alive connections lose nothing, and nginx forwards the new ones itself', async () => {
    await nginxHolds(p, 'second') // the reload the test before made, over
    const conf = join(p.dataDir, 'nginx', 'nginx.conf')
    const master = readFileSync(join(p.dataDir, 'nginx', 'nginx.pid'), 'utf8').trim()
    const workers = () => spawnSync('pgrep', ['-P', master]).stdout.toString().split('\n').filter(Boolean).sort()
    const before = { config: readFileSync(conf, 'utf8'), workers: workers() }
    const other = await startUpstream()
    // Ten callers, each on one kept-alive connection, for as long as the services change: a
    // reload's retiring workers would close those connections under them.
    const callers = keptAliveCallers(10, async (agent) => {
      const r = await request(`http://127.0.0.1:${p.gatewayPort}/echo`, { dispatcher: agent, headers: { host: host('first'), authorization: `Bearer ${token}` } })
      await r.body.dump()
      return r.statusCode
    })
    let outcome: { failures: string[]; answered: number } | undefined
    try {
      for (let i = 0; i < 3; i++) {
        expect((await p.cli(['services', 'create', `plain${i}`, `--upstream=${upstream.url}`, '--allow-unauthenticated'])).code).toBe(0)
        // The new service is forwarded by nginx itself (nginx writes `Host`; Postern's gateway, `host`) as soon as it exists.
        const seen = upstream.seen.length
        const r = await request(`http://127.0.0.1:${p.gatewayPort}/new`, { headers: { host: host(`plain${i}`) } })
        await r.body.dump()
        expect(r.statusCode).toBe(200)
        expect(upstream.seen.slice(seen).find((s) => s.url === '/new')?.rawHeaders[0]).toBe('Host')
      }
      expect((await p.cli(['services', 'update', 'plain0', `--upstream=${other.url}`])).code).toBe(0)
      const moved = await poll(async () => {
        const r = await request(`http://127.0.0.1:${p.gatewayPort}/moved`, { headers: { host: host('plain0') } })
        await r.body.dump()
        return other.seen.find((s) => s.url === '/moved')
      }, (s) => s !== undefined, 3_000)
      expect(moved?.rawHeaders[0]).toBe('Host')
      expect((await p.cli(['services', 'delete', 'plain1', '--quiet'])).code).toBe(0)
      expect(await poll(async () => {
        const r = await request(`http://127.0.0.1:${p.gatewayPort}/`, { headers: { host: host('plain1') } })
        await r.body.dump()
        return r.statusCode
      }, (s) => s === 404, 3_000)).toBe(404)
      // Long enough for a reload, had there been one, to have retired the workers.
      await new Promise((r) => setTimeout(r, 500))
    } finally {
      outcome = await callers.stop()
      await other.close()
    }
    expect(outcome.failures).toEqual([])
    expect(outcome.answered).toBeGreaterThan(100)
    expect(readFileSync(conf, 'utf8')).toBe(before.config)
    expect(workers()).toEqual(before.workers)
  })

  it('reaches an upstream by host name, and answers the gateway’s 502 for one whose name does not resolve while the others go on', async () => {
    const byName = upstream.url.replace('127.0.0.1', 'localhost')
    expect((await p.cli(['services', 'create', 'named', `--upstream=${byName}`, '--allow-unauthenticated'])).code).toBe(0)
    expect((await p.cli(['services', 'create', 'nowhere', '--upstream=http://no-such-host.invalid:8080', '--allow-unauthenticated'])).code).toBe(0)
    // Each on a connection of its own: a worker a reload retires closes the idle ones it kept.
    const status = (service: string, authorization?: string) => async () => {
      const agent = new Agent()
      try {
        const r = await request(`http://127.0.0.1:${p.gatewayPort}/echo`, { dispatcher: agent, headers: { host: host(service), ...(authorization ? { authorization } : {}) } })
        return { status: r.statusCode, body: await r.body.text() }
      } finally {
        await agent.close()
      }
    }
    const named = await poll(status('named'), (r) => r.status === 200, 5_000)
    expect(named.status).toBe(200)
    await poll(status('nowhere'), (r) => r.status !== 404, 5_000)
    await nginxHolds(p, 'nowhere')
    const nowhere = await status('nowhere')()
    expect(nowhere.status).toBe(502)
    expect(JSON.parse(nowhere.body).error).toMatchObject({ code: 502, status: 'BAD_GATEWAY' })
    // Postern's gateway's answer, with why: it looks the name up as it connects (nginx would hold
    // the nothing it found when loaded, until some change reloaded it).
    expect(JSON.parse(nowhere.body).error.message).toMatch(/^The upstream of projects\/my-project\/services\/nowhere is unreachable \([A-Z_]+\)\.$/)
    expect((await status('first', `Bearer ${token}`)()).status).toBe(200)
  })

  it('logs a few of the lines nginx writes for each broken request, and how many more there were: no caller fills Postern\'s log', async () => {
    const broken = (seen: number) => p.output().slice(seen).split('\n').filter((l) => l.includes('client sent invalid chunked body'))
    const seen = p.output().length
    // 300 connections, each with a chunked body whose size is no number: nginx writes a line for each.
    for (let i = 0; i < 300; i += 20) {
      await Promise.all(Array.from({ length: 20 }, () => rawRequest(p.gatewayPort, `POST /echo HTTP/1.1\r\nHost: ${host('first')}\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n`).catch(() => undefined)))
    }
    await eventually(15_000, () => /nginx: \d+ more lines about clients' mistakes in the last 10 s, not shown/.test(p.output().slice(seen)), 'the count of the lines not shown')
    expect(broken(seen).length).toBeGreaterThan(0)
    expect(broken(seen).length).toBeLessThanOrEqual(20)
    const held = [...p.output().slice(seen).matchAll(/nginx: (\d+) more lines about clients' mistakes/g)].reduce((sum, m) => sum + Number(m[1]), 0)
    expect(held + broken(seen).length).toBeGreaterThanOrEqual(280)
  }, 30_000)

  it('refuses to start on a taken port, saying which flag to change, and leaves no nginx behind', async () => {
    const blocker = (await import('node:net')).createServer().listen(0, '127.0.0.1')
    await new Promise((r) => blocker.once('listening', r))
    const port = (blocker.address() as { port: number }).port
    const dataDir = mkdtempSync(join(tmpdir(), 'postern-nginx-taken-'))
    try {
      await expect(startPostern({ dataPlane: 'nginx', gatewayPort: port, dataDir })).rejects.toThrow(/port is in use.*--gateway-port/s)
      expect(nginxFor(dataDir)).toBe('')
    } finally {
      blocker.close()
    }
  })

  it('says what is wrong when it cannot make its directory, and starts nothing', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'postern-nginx-dir-'))
    writeFileSync(join(dataDir, 'nginx'), 'a file where the directory should be')
    const gatewayPort = await freePort()
    await expect(startPostern({ dataPlane: 'nginx', dataDir, gatewayPort })).rejects.toThrow(/Cannot create .*nginx for the nginx data plane/)
    expect(await refuses(gatewayPort)).toBe(true)
  })

  it('--data-plane takes node or nginx, and not --workers beside nginx', async () => {
    const bad = await p.cli(['serve', '--data-plane', 'envoy'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain("--data-plane: expected node or nginx, got 'envoy'.")
    const both = await p.cli(['serve', '--data-plane', 'nginx', '--workers', '2'])
    expect(both.code).toBe(2)
    expect(both.stderr).toContain('nginx already runs a worker on every core')
  })

  it('nginx stops within seconds of Postern being killed outright', async () => {
    const q = await startPostern({ dataPlane: 'nginx' })
    expect(await refuses(q.gatewayPort)).toBe(false)
    await q.stop('SIGKILL')
    expect(await poll(() => refuses(q.gatewayPort), (r) => r, 8_000)).toBe(true)
    // The master exits once its workers have (they stop listening first).
    expect(await poll(() => nginxFor(q.dataDir), (s) => s === '', 3_000)).toBe('')
  })

  describe('an nginx run by someone else, from postern nginx-config', () => {
    let node: PosternProcess
    let nginx: ChildProcess
    let port: number
    let prefix: string
    let nodeToken: string

    beforeAll(async () => {
      node = await startPostern()
      expect((await node.cli(['services', 'create', 'first', `--upstream=${upstream.url}`])).code).toBe(0)
      nodeToken = await node.ownerIdToken()
      expect((await node.cli(['services', 'add-iam-policy-binding', 'first', '--member=user:owner@example.com', '--role=roles/run.invoker'])).code).toBe(0)
      port = await freePort()
      const printed = await node.cli(['nginx-config', '--data-dir', node.dataDir, '--listen', `127.0.0.1:${port}`, '--postern', `127.0.0.1:${node.gatewayPort}`])
      expect(printed.code, printed.stderr).toBe(0)
      prefix = mkdtempSync(join(tmpdir(), 'postern-own-nginx-'))
      mkdirSync(join(prefix, 'logs'))
      // Run as root here, nginx's workers would switch to nobody, who may not read the prefix.
      writeFileSync(join(prefix, 'nginx.conf'), `user root;\n${printed.stdout}`)
      nginx = spawn('/usr/sbin/nginx', ['-p', prefix + '/', '-c', join(prefix, 'nginx.conf'), '-e', 'stderr', '-g', 'daemon off;'], { stdio: 'ignore' })
      expect(await poll(() => refuses(port), (r) => !r, 5_000)).toBe(false)
    })
    afterAll(async () => {
      nginx?.kill('SIGQUIT')
      await node?.stop()
    })

    it('admits and refuses as the gateway does', async () => {
      const ok = await request(`http://127.0.0.1:${port}/echo`, { headers: { host: `first.my-project.localhost:${node.gatewayPort}`, authorization: `Bearer ${nodeToken}` } })
      expect(ok.statusCode).toBe(200)
      await ok.body.dump()
      const refused = await request(`http://127.0.0.1:${port}/echo`, { headers: { host: `first.my-project.localhost:${node.gatewayPort}` } })
      expect(refused.statusCode).toBe(401)
      expect(refused.headers['www-authenticate']).toBe('Bearer realm="postern"')
      await refused.body.dump()
    })

    it('forwards services created or changed since it was printed to their upstreams as they stand now, and one with a timeout it has no location for through Postern’s gateway', async () => {
      // This nginx is never reloaded: a new service or a new upstream comes in verdicts, and what
      // its configuration does not hold (a timeout under a minute with no location) it must not
      // forward itself — a named location it lacks would be nginx's HTML 500.
      const other = await startUpstream()
      try {
        const via = async (service: string) => {
          const r = await request(`http://127.0.0.1:${port}/echo`, { headers: { host: `${service}.my-project.localhost:${node.gatewayPort}`, authorization: `Bearer ${nodeToken}` } })
          return { status: r.statusCode, type: r.headers['content-type'], body: await r.body.text() }
        }
        expect((await node.cli(['services', 'create', 'later', `--upstream=${other.url}`])).code).toBe(0)
        expect((await node.cli(['services', 'add-iam-policy-binding', 'later', '--member=user:owner@example.com', '--role=roles/run.invoker'])).code).toBe(0)
        expect(await via('later')).toMatchObject({ status: 200 })
        expect(other.seen).toHaveLength(1)

        // A new timeout under a minute. A verdict nginx holds from before may stand for a second
        // (and its epoch's confirmation for one more), and answers alike: waited out, so that the
        // request below carries the verdict with the new timeout, which this nginx has no location for.
        expect((await node.cli(['services', 'update', 'first', '--timeout=17'])).code).toBe(0)
        await new Promise((r) => setTimeout(r, 2_000))
        const slower = await via('first')
        expect(slower.status, slower.body).toBe(200)
        expect(slower.type).toContain('application/json')
        expect((await node.cli(['services', 'update', 'first', '--timeout=300'])).code).toBe(0)

        const old = upstream.seen.length
        expect((await node.cli(['services', 'update', 'first', `--upstream=${other.url}`])).code).toBe(0)
        // A verdict nginx holds from before the change may stand for a second, as on the Node gateway.
        await poll(() => via('first'), () => other.seen.length > 1, 3_000)
        const settled = upstream.seen.length
        for (let i = 0; i < 3; i++) expect(await via('first')).toMatchObject({ status: 200 })
        expect(other.seen).toHaveLength(5)
        expect(upstream.seen).toHaveLength(settled)
        expect(settled - old).toBeLessThanOrEqual(20)
      } finally {
        await other.close()
      }
    })

    it('is printed only from the master key of the Postern it asks: without one, it says so and makes none up', async () => {
      const elsewhere = mkdtempSync(join(tmpdir(), 'postern-no-master-key-'))
      const printed = await node.cli(['nginx-config', '--data-dir', elsewhere], { env: { POSTERN_MASTER_KEY: '' } })
      expect(printed.code).toBe(1)
      expect(printed.stderr).toContain(`POSTERN_MASTER_KEY is not set and ${join(elsewhere, 'master.key')} does not exist`)
      expect(printed.stdout).toBe('')
      expect(existsSync(join(elsewhere, 'master.key'))).toBe(false)
    })

    it('fails closed with 503 once Postern cannot be reached and its verdicts have expired', async () => {
      await node.stop()
      const status = await poll(async () => {
        const r = await request(`http://127.0.0.1:${port}/echo`, { headers: { host: `first.my-project.localhost:${node.gatewayPort}`, authorization: `Bearer ${nodeToken}` } })
        const body = await r.body.text()
        return { status: r.statusCode, body, type: r.headers['content-type'], server: r.headers.server }
      }, (r) => r.status === 503, 3_000)
      expect(status.status).toBe(503)
      expect(JSON.parse(status.body).error.status).toBe('UNAVAILABLE')
      // The gateway's answer, not nginx's page.
      expect([status.type, status.server]).toEqual(['application/json; charset=utf-8', undefined])
    })
  })
})

/**
 * HTTP/2 streams (under TLS) go from nginx to Postern's gateway over h2c: when no Postern
 * answers on its socket they fail closed as requests do — 503 UNAVAILABLE in the one error shape,
 * and for a gRPC caller the gRPC error UNAVAILABLE with the same words. So do forward-auth's
 * questions, and /healthz and /readyz say not ready, each in Postern's words, not nginx's HTML.
 */
describe('HTTP/2 through the nginx data plane when Postern cannot be reached', () => {
  let nginx: ChildProcess
  let port: number
  let tls: { cert: string; key: string }

  beforeAll(async () => {
    tls = selfSignedCertificate()
    port = await freePort()
    const prefix = mkdtempSync(join(tmpdir(), 'postern-nginx-h2-'))
    const config = nginxConfig({ listen: { host: '127.0.0.1', port }, decisions: `unix:${join(prefix, 'nobody.sock')}`, decisionKey: 'k'.repeat(43), runDir: '.', shape: shapeServices([]).shape, modulesDir: DEBIAN_NGINX.modulesDir, workerProcesses: 1, upstreamCa: SYSTEM_CA_BUNDLE, trustedProxies: TrustedProxies.none, publicPort: String(port), gatewayHost: 'localhost', maxConnections: 10_000, tls })
    writeFileSync(join(prefix, 'nginx.conf'), `user root;\n${config}`)
    nginx = spawn(DEBIAN_NGINX.binary, ['-p', prefix + '/', '-c', join(prefix, 'nginx.conf'), '-e', 'stderr', '-g', 'daemon off;'], { stdio: 'ignore' })
    expect(await poll(() => refuses(port), (r) => !r, 5_000)).toBe(false)
  })
  afterAll(() => {
    nginx?.kill('SIGQUIT')
  })

  it('answers 503 UNAVAILABLE over h2, and a gRPC caller UNAVAILABLE with Postern’s words', async () => {
    const r = await curl(['--http2', '--cacert', tls.cert, '-w', '\n%{http_version} %{http_code}', `https://web.my-project.localhost:${port}/`])
    const [body, status] = r.stdout.split('\n')
    expect(status).toBe('2 503')
    expect(JSON.parse(body!).error.status).toBe('UNAVAILABLE')
    const client = echoClient(`127.0.0.1:${port}`, `greeter.my-project.localhost:${port}`, readFileSync(tls.cert))
    expect(await say(client, 'hi', bearer(undefined))).toEqual({ ok: false, code: grpc.status.UNAVAILABLE, details: 'Postern cannot be reached to decide on this request; try again shortly.' })
    client.close()
  })

  it('answers /healthz and /readyz not ready, forward-auth and a service 503 UNAVAILABLE, each as Postern\'s gateway words it (no nginx page, no Server)', async () => {
    const ask = async (host: string, path: string) => {
      const r = await curl(['--http1.1', '-i', '--cacert', tls.cert, '--connect-to', `${host}:${port}:127.0.0.1:${port}`, `https://${host}:${port}${path}`])
      const [head, body] = r.stdout.split('\r\n\r\n') as [string, string]
      const lines = head.split('\r\n')
      const header = (name: string) => lines.find((l) => l.toLowerCase().startsWith(`${name}:`))?.slice(name.length + 1).trim()
      return { status: lines[0], server: header('server'), type: header('content-type'), body }
    }
    for (const path of ['/healthz', '/readyz']) {
      const r = await ask('127.0.0.1', path)
      expect(r, path).toMatchObject({ status: expect.stringMatching(/^HTTP\/1\.1 503 /), server: undefined, type: 'application/json' })
      expect(JSON.parse(r.body), path).toEqual({ status: 'not ready', error: 'Postern cannot be reached to decide on this request; try again shortly.' })
    }
    for (const [host, path] of [['127.0.0.1', '/forward-auth'], ['127.0.0.1', '/forward-auth/x'], [`web.my-project.localhost`, '/']]) {
      const r = await ask(host!, path!)
      expect(r, path).toMatchObject({ status: expect.stringMatching(/^HTTP\/1\.1 503 /), server: undefined, type: 'application/json; charset=utf-8' })
      expect(JSON.parse(r.body).error, path).toMatchObject({ status: 'UNAVAILABLE', message: 'Postern cannot be reached to decide on this request; try again shortly.' })
    }
  })
})
