import { request } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startPostern, type PosternProcess } from '../support/server.js'
import { createUser } from '../support/sign-in.js'
import { WebAgent } from '../support/web-sign-in.js'
import { startUpstream } from '../support/upstream.js'

/**
 * Failed sign-ins slow a guesser without locking the owner out: limits count per account and
 * address together, with waits that double; behind a proxy named in --trusted-proxies the
 * address is the one X-Forwarded-For gives (for these limits, and on the device page), and nobody
 * else's X-Forwarded-For counts. Different
 * client addresses are real: the test connects from 127.0.0.2, 127.0.0.3 … (all loopback).
 */
const PASSWORD = 'the-right-password-1'

/** POSTs the sign-in form from `from` (a local source address), as a browser would after loading it. */
function signIn(p: PosternProcess, email: string, password: string, o: { from?: string; forwardedFor?: string } = {}): Promise<{ status: number; retryAfter: number }> {
  const body = new URLSearchParams({ email, password, form_token: 't', return_to: '/console' }).toString()
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: p.controlPort,
        path: '/signin',
        method: 'POST',
        localAddress: o.from ?? '127.0.0.1',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
          cookie: 'postern_signin=t',
          ...(o.forwardedFor && { 'x-forwarded-for': o.forwardedFor }),
        },
      },
      (res) => {
        res.resume()
        res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: Number(res.headers['retry-after'] ?? 0) }))
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

async function wrongTimes(p: PosternProcess, email: string, n: number, o: { from?: string; forwardedFor?: string }): Promise<number[]> {
  const statuses: number[] = []
  for (let i = 0; i < n; i++) statuses.push((await signIn(p, email, `wrong-${i}`, o)).status)
  return statuses
}

describe('sign-in limits by the connecting address', () => {
  let p: PosternProcess
  beforeAll(async () => {
    p = await startPostern()
    await createUser(p, 'ann@example.com', PASSWORD)
    await createUser(p, 'bob@example.com', PASSWORD)
  })
  afterAll(() => p?.stop())

  it('ten wrong passwords from one address do not stop the right password from another', async () => {
    const guesses = await wrongTimes(p, 'ann@example.com', 10, { from: '127.0.0.2' })
    expect(guesses.slice(0, 5)).toEqual([401, 401, 401, 401, 401])
    expect(guesses).toContain(429)
    expect((await signIn(p, 'ann@example.com', PASSWORD, { from: '127.0.0.3' })).status).toBe(303)
  })

  it('the right password from the guessing address works once its wait is over', async () => {
    await wrongTimes(p, 'bob@example.com', 7, { from: '127.0.0.4' })
    const waiting = await signIn(p, 'bob@example.com', PASSWORD, { from: '127.0.0.4' })
    expect(waiting.status).toBe(429)
    expect(waiting.retryAfter).toBeGreaterThan(0)
    expect(waiting.retryAfter).toBeLessThanOrEqual(10)
    await new Promise((r) => setTimeout(r, waiting.retryAfter * 1000))
    expect((await signIn(p, 'bob@example.com', PASSWORD, { from: '127.0.0.4' })).status).toBe(303)
  })

  it('ignores X-Forwarded-For from a peer that is not a trusted proxy', async () => {
    const statuses: number[] = []
    for (let i = 0; i < 7; i++) statuses.push((await signIn(p, 'ann@example.com', 'wrong', { from: '127.0.0.5', forwardedFor: `198.51.100.${i + 1}` })).status)
    // Seven different claimed addresses, one real one: counted together.
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401])
    expect(statuses.slice(5)).toContain(429)
  })
})

describe('behind a trusted proxy: sign-in limits, and the X-Forwarded-For an upstream sees', () => {
  let p: PosternProcess
  let upstream: Awaited<ReturnType<typeof startUpstream>>
  beforeAll(async () => {
    upstream = await startUpstream()
    p = await startPostern({ args: ['--trusted-proxies', '127.0.0.1/32,::1'] })
    await createUser(p, 'ann@example.com', PASSWORD)
    expect((await p.cli(['services', 'create', 'open', `--upstream=${upstream.url}`, '--allow-unauthenticated'])).code).toBe(0)
  })
  afterAll(async () => {
    await p?.stop()
    await upstream?.close()
  })

  it('the gateway passes on the chain the proxy vouches for, and only from the proxy', async () => {
    const xff = async (from: string) => {
      await new Promise<void>((resolve, reject) => {
        const req = request(
          { host: '127.0.0.1', port: p.gatewayPort, path: '/', localAddress: from, headers: { host: `open.my-project.localhost:${p.gatewayPort}`, 'x-forwarded-for': '6.6.6.6, 198.51.100.1' } },
          (res) => res.resume().on('end', resolve),
        )
        req.on('error', reject)
        req.end()
      })
      return upstream.seen.at(-1)!.headers['x-forwarded-for']
    }
    // 127.0.0.1 is the named proxy: its client is 198.51.100.1; what sits left of it was the client's own claim.
    expect(await xff('127.0.0.1')).toBe('198.51.100.1, 127.0.0.1')
    // Any other peer's X-Forwarded-For is its own word: the upstream learns the peer alone.
    expect(await xff('127.0.0.7')).toBe('127.0.0.7')
  })

  it('limits different X-Forwarded-For addresses separately', async () => {
    const first = await wrongTimes(p, 'ann@example.com', 8, { forwardedFor: '203.0.113.9, 198.51.100.1' })
    expect(first.slice(0, 5)).toEqual([401, 401, 401, 401, 401])
    expect(first.slice(5)).toContain(429)
    // The client left of the proxy's entry is the client's own claim, never read.
    expect((await signIn(p, 'ann@example.com', 'wrong', { forwardedFor: '203.0.113.10, 198.51.100.1' })).status).toBe(429)
    expect((await signIn(p, 'ann@example.com', 'wrong', { forwardedFor: '198.51.100.2' })).status).toBe(401)
    expect((await signIn(p, 'ann@example.com', PASSWORD, { forwardedFor: '198.51.100.3' })).status).toBe(303)
  })

  it('the device page shows the address a device asked from as the proxy vouches for it, and no secret', async () => {
    const askFor = (from: string) => new Promise<Record<string, string>>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port: p.controlPort, path: '/oauth2/device/code', method: 'POST', localAddress: from, headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': '6.6.6.6, 198.51.100.20' } },
        (res) => {
          let body = ''
          res.on('data', (c: Buffer) => (body += c)).on('end', () => resolve(JSON.parse(body) as Record<string, string>))
        },
      )
      req.on('error', reject)
      req.end('client_id=postern-cli')
    })
    await createUser(p, 'dee@example.com', PASSWORD)
    const agent = new WebAgent(p.controlUrl)
    expect((await agent.signIn('dee@example.com', PASSWORD)).status).toBe(303)
    const shown = async (d: Record<string, string>, viewerForwardedFor: string) => {
      const res = await agent.fetch(d.verification_uri_complete!, { headers: { 'x-forwarded-for': viewerForwardedFor } })
      expect(res.status).toBe(200)
      const html = await res.text()
      expect(html).not.toContain(d.device_code!)
      return /From address: <strong>([^<]*)<\/strong>([^<]*)/.exec(html)?.slice(1).join('')
    }
    // Through the proxy: the client it names, not what the client claimed left of it.
    const proxied = await askFor('127.0.0.1')
    expect(await shown(proxied, '198.51.100.20')).toBe('198.51.100.20 — the address you are using now')
    expect(await shown(proxied, '203.0.113.5')).toBe('198.51.100.20 — not the address you are using now (203.0.113.5)')
    // Another peer's X-Forwarded-For is its own word: the peer it is.
    expect(await shown(await askFor('127.0.0.8'), '203.0.113.5')).toBe('127.0.0.8 — not the address you are using now (203.0.113.5)')
  })

  it('still counts a peer that is not the proxy by its own address', async () => {
    const statuses: number[] = []
    for (let i = 0; i < 7; i++) statuses.push((await signIn(p, 'ann@example.com', 'wrong', { from: '127.0.0.6', forwardedFor: `198.51.100.${100 + i}` })).status)
    expect(statuses.slice(5)).toContain(429)
    expect((await signIn(p, 'ann@example.com', PASSWORD, { forwardedFor: '198.51.100.4' })).status).toBe(303)
  })
})
