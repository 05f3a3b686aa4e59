import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientAddressChain } from '../../src/gateway/headers.js'
import { TrustedProxies } from '../../src/http/client-address.js'
import { eventually } from '../support/eventually.js'
import { freePort } from '../support/ports.js'
import { rawGet } from '../support/raw-http.js'
import { DATA_PLANES, startPostern, type PosternProcess } from '../support/server.js'
import { invokerOf } from '../support/sign-in.js'
import { startUpstream } from '../support/upstream.js'

/**
 * Postern trusts the proxy on this machine (127.0.0.1) and proxies further out (10.0.0.0/8, a
 * range whose prefix ends inside a byte, and an IPv6 one); callers on 127.0.0.2 are clients.
 */
const TRUSTED = '127.0.0.1,10.0.0.0/8,172.16.0.0/12,fd00::/8'
const CLIENT = '127.0.0.2'

/**
 * What an upstream learns of the client in X-Forwarded-For, behind `--trusted-proxies`: the chain
 * a trusted peer vouches for (read from the right, up to the first address that is not a trusted
 * proxy), client first; from any other peer, the peer alone. The same on both data planes: the
 * nginx plane writes it in Lua (nginx-lua-forwarded-for.ts), the Node gateway in headers.ts.
 */
describe.each(DATA_PLANES)('X-Forwarded-For behind trusted proxies (%s data plane)', (dataPlane) => {
  let p: PosternProcess
  let upstream: Awaited<ReturnType<typeof startUpstream>>
  let host: string
  let token: string
  const fronts: ChildProcess[] = []

  beforeAll(async () => {
    upstream = await startUpstream()
    p = await startPostern({ dataPlane, args: ['--trusted-proxies', TRUSTED] })
    const invoker = await invokerOf(p, 'app', upstream.url)
    host = invoker.host
    token = invoker.token
    await eventually(15_000, async () => (await call([])).status === 200, 'the service answering 200')
  })
  afterAll(async () => {
    for (const f of fronts) f.kill('SIGTERM')
    await p?.stop()
    await upstream?.close()
  })

  /** A request from 127.0.0.1 (a trusted proxy) carrying these X-Forwarded-For headers; what the upstream got. */
  const call = (forwardedFor: string[]) => rawGet(p.gatewayPort, host, [`Authorization: Bearer ${token}`, ...forwardedFor.map((v) => `X-Forwarded-For: ${v}`)])
  const seenForwardedFor = () => upstream.seen.at(-1)!.headers['x-forwarded-for']

  it('passes on the chain a trusted proxy vouches for, client first, and nothing a client wrote left of it', async () => {
    const cases: [string[], string][] = [
      [[], '127.0.0.1'],
      [['203.0.113.9'], '203.0.113.9, 127.0.0.1'],
      // 198.51.100.7 is what the client claimed; 203.0.113.9 is the client the trusted proxy saw.
      [['198.51.100.7, 203.0.113.9'], '203.0.113.9, 127.0.0.1'],
      [['198.51.100.7, 10.1.2.3'], '198.51.100.7, 10.1.2.3, 127.0.0.1'],
      // Two headers are one list; addresses are written in one form.
      [['1.1.1.1', '2001:DB8:0:0:0:0:0:1, 10.0.0.7'], '2001:db8::1, 10.0.0.7, 127.0.0.1'],
      [['::ffff:203.0.113.5'], '203.0.113.5, 127.0.0.1'],
      [['[2001:db8::5]:443'], '2001:db8::5, 127.0.0.1'],
      [['203.0.113.5:8080'], '203.0.113.5, 127.0.0.1'],
      // Garbage where an address should be: the trusted proxy that passed it on is all that is known.
      [['not-an-address, 10.9.8.7'], '10.9.8.7, 127.0.0.1'],
      [['010.0.0.1'], '127.0.0.1'],
      [['fe80::1%eth0'], '127.0.0.1'],
      [[' , ,10.0.0.1,'], '10.0.0.1, 127.0.0.1'],
    ]
    for (const [sent, expected] of cases) {
      const res = await call(sent)
      expect(res.status, res.body).toBe(200)
      expect(seenForwardedFor(), JSON.stringify(sent)).toBe(expected)
    }
  })

  it('writes what the Node gateway would, address for address (a corpus of odd forms)', async () => {
    const trusted = TrustedProxies.parse(TRUSTED)
    const corpus = [
      ['0:0:0:0:0:ffff:cb00:7105'],
      ['2001:db8::1:0:0:1'],
      ['2001:0db8:0000:0000:0001:0000:0000:0000, 10.255.255.255'],
      ['::, 10.0.0.1'],
      ['::1.2.3.4'],
      ['[::ffff:10.0.0.9]:80, 10.1.1.1'],
      ['1.2.3.4:99999'],
      ['256.1.1.1, 10.0.0.3'],
      ['1.2.3'],
      ['11.0.0.1, 10.0.0.1'],
      ['10.0.0.5'],
      ['203.0.113.1, 172.31.255.255, 172.16.0.1'],
      ['203.0.113.1, 172.32.0.1, 172.16.0.1'],
      ['203.0.113.1, 172.15.255.255'],
      ['2001:db8::9, FD12:3456::1, fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
      ['2001:db8::9, fe00::1'],
      ['[fd00::7]:8443, ::ffff:10.1.1.1'],
      // An attacker's long header: ten thousand hops, or one hop of 50 KB.
      [`${'10.0.0.1,'.repeat(10_000)}203.0.113.7`],
      [`${'9'.repeat(50_000)}, 10.0.0.2`],
      // Last, for the check below.
      [Array.from({ length: 25 }, (_, i) => `10.0.0.${i}`).join(', ')],
    ]
    for (const sent of corpus) {
      const res = await call(sent)
      expect(res.status, res.body).toBe(200)
      expect(seenForwardedFor(), JSON.stringify(sent)).toBe(clientAddressChain('127.0.0.1', sent.flatMap((v) => ['X-Forwarded-For', v]), trusted))
    }
    // Twenty hops are read at most: a longer chain of trusted proxies is not plausible.
    expect(String(seenForwardedFor()).split(', ')).toHaveLength(21)
  })

  it('ignores the X-Forwarded-For of a peer that is not a trusted proxy: anyone can send one', async () => {
    const res = await rawGet(p.gatewayPort, host, [`Authorization: Bearer ${token}`, 'X-Forwarded-For: 203.0.113.9, 10.0.0.1'], '/echo', CLIENT)
    expect(res.status, res.body).toBe(200)
    expect(seenForwardedFor()).toBe(CLIENT)
  })

  // Real proxies in front, on 127.0.0.1 (trusted), with a client on 127.0.0.2 that forges a hop.
  it.each(['nginx', 'caddy'] as const)('names the client %s saw, not the hop the client forged', async (front) => {
    const port = await freePort()
    fronts.push(await startFront(front, port, p.gatewayPort))
    const ask = async () => (await rawGet(port, host, [`Authorization: Bearer ${token}`, 'X-Forwarded-For: 203.0.113.66'], '/echo', CLIENT)).status
    await expect.poll(() => ask().catch(() => 0), { timeout: 15_000 }).toBe(200)
    expect(seenForwardedFor()).toBe(`${CLIENT}, 127.0.0.1`)
  })
})

/** nginx (as a plain reverse proxy, appending to X-Forwarded-For) or Caddy (which names the client it saw), in front of the gateway. */
async function startFront(kind: 'nginx' | 'caddy', port: number, gatewayPort: number): Promise<ChildProcess> {
  const dir = mkdtempSync(join(tmpdir(), `postern-front-${kind}-`))
  if (kind === 'nginx') {
    writeFileSync(
      join(dir, 'nginx.conf'),
      `daemon off;\nmaster_process off;\npid ${dir}/nginx.pid;\nerror_log ${dir}/error.log warn;\nevents { worker_connections 64; }\nhttp {\n  access_log off;\n` +
        ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${dir}/${t};\n`).join('') +
        `  server {\n    listen 127.0.0.1:${port};\n    location / {\n      proxy_pass http://127.0.0.1:${gatewayPort};\n      proxy_set_header Host $http_host;\n      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n    }\n  }\n}\n`,
    )
    return spawn('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: 'ignore' })
  }
  writeFileSync(join(dir, 'Caddyfile'), `{\n  admin off\n  auto_https off\n}\nhttp://:${port} {\n  bind 127.0.0.1\n  reverse_proxy 127.0.0.1:${gatewayPort}\n}\n`)
  return spawn('caddy', ['run', '--config', join(dir, 'Caddyfile'), '--adapter', 'caddyfile'], { env: { ...process.env, HOME: dir, XDG_DATA_HOME: join(dir, 'data'), XDG_CONFIG_HOME: join(dir, 'config') }, stdio: 'ignore' })
}
