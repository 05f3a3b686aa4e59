import { createSign } from 'node:crypto'
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { attackerKey, b64, serverSigningKey } from '../support/forge.js'
import { eventually } from '../support/eventually.js'
import { freePort } from '../support/ports.js'
import { startPostern, type PosternProcess } from '../support/server.js'
import { createUser, signInUser } from '../support/sign-in.js'
import { startUpstream } from '../support/upstream.js'

/**
 * The nginx data plane admits a token it has never seen on the verdict Postern gave for another
 * token of the same caller (same header, same claims but iat and exp), after checking the new
 * token's signature and times itself (src/gateway/nginx/nginx-lua-tokens.ts). What is reused is
 * counted by Postern's own decisions (its metrics); what must not be reused is sent right after a
 * verdict was made, so that a wrongly reused verdict would admit it.
 */
describe('nginx data plane: new tokens of an admitted caller', () => {
  let p: PosternProcess
  let upstream: Awaited<ReturnType<typeof startUpstream>>
  let metricsPort: number
  let annToken: string
  let bobToken: string
  let signer: ReturnType<typeof serverSigningKey>
  const resource = 'projects/my-project/services/api'
  const host = () => `api.my-project.localhost:${p.gatewayPort}`

  const call = async (token: string) => {
    const res = await request(`http://127.0.0.1:${p.gatewayPort}/echo`, { headers: { host: host(), authorization: `Bearer ${token}` } })
    await res.body.dump()
    return res.statusCode
  }
  /** Postern's own count of requests it decided to admit to the service (or, with `verdict`, decided so). */
  const decisions = async (verdict: 'allowed' | 'denied' = 'allowed') => {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text()
    const m = new RegExp(`postern_gateway_requests_total\\{service="${resource}",verdict="${verdict}"\\} (\\d+)`).exec(text)
    return Number(m?.[1] ?? 0)
  }
  /** Postern's count of renewal lines it answered so (nginx/renewal.ts). */
  const renewals = async (answer: 'allow' | 'same' | 'refuse') => {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text()
    return Number(new RegExp(`postern_nginx_renewals_total\\{answer="${answer}"\\} (\\d+)`).exec(text)?.[1] ?? 0)
  }

  const parts = (token: string) => token.split('.') as [string, string, string]
  const claimsOf = (token: string) => JSON.parse(Buffer.from(parts(token)[1], 'base64url').toString('utf8')) as Record<string, unknown>
  /** A token as Postern mints them, for the caller of `like`: the same header and claims, iat and exp as given (they come last, as in Postern's). */
  const sibling = (like: string, times: { iat: number; exp: number }, key = signer.key) => {
    const { iat: _iat, exp: _exp, ...rest } = claimsOf(like)
    const input = `${parts(like)[0]}.${b64(JSON.stringify({ ...rest, ...times }))}`
    return `${input}.${b64(createSign('RSA-SHA256').update(input).sign(key))}`
  }
  let serial = 0
  /** A valid token of the same caller never sent before (each a second older than the last). */
  const fresh = (like: string) => {
    const now = Math.floor(Date.now() / 1000)
    serial++
    return sibling(like, { iat: now - serial, exp: now + 3000 })
  }

  beforeAll(async () => {
    upstream = await startUpstream()
    metricsPort = await freePort()
    p = await startPostern({ dataPlane: 'nginx', args: ['--metrics-port', String(metricsPort)] })
    expect((await p.cli(['services', 'create', 'api', `--upstream=${upstream.url}`])).code).toBe(0)
    await createUser(p, 'ann@example.com', 'ann-password-123')
    await createUser(p, 'bob@example.com', 'bob-password-123')
    expect((await p.cli(['services', 'add-iam-policy-binding', 'api', '--member=user:ann@example.com', '--role=roles/run.invoker'])).code).toBe(0)
    annToken = (await signInUser(p, 'ann@example.com', 'ann-password-123')).idToken
    bobToken = (await signInUser(p, 'bob@example.com', 'bob-password-123')).idToken
    signer = serverSigningKey(p.dataDir)
    expect(claimsOf(annToken)).toMatchObject({ email: 'ann@example.com' })
    // Postern writes iat and exp last in the ID tokens it mints: what nginx relies on.
    expect(Buffer.from(parts(annToken)[1], 'base64url').toString()).toMatch(/,"iat":\d+,"exp":\d+\}$/)
    await eventually(5_000, async () => (await call(annToken)) === 200, 'ann admitted')
  })
  afterAll(async () => {
    await Promise.all([p?.stop(), upstream?.close()])
  })

  it('admits new tokens of the caller without asking Postern, each with its own signature removed upstream', async () => {
    expect(await call(annToken)).toBe(200)
    const before = await decisions()
    const tokens = Array.from({ length: 40 }, () => fresh(annToken))
    for (const t of tokens) {
      // The first request with a token is admitted on its caller's verdict, the next on the
      // worker's copy kept under the token itself: both send its own signature-less form.
      for (let again = 0; again < 2; again++) {
        expect(await call(t)).toBe(200)
        const [h, c] = parts(t)
        expect(upstream.seen.at(-1)!.headers.authorization).toBe(`Bearer ${h}.${c}.SIGNATURE_REMOVED_BY_POSTERN`)
        expect(upstream.seen.at(-1)!.headers['x-postern-authenticated-email']).toBe('ann@example.com')
      }
    }
    // Verdicts live half a second and are renewed past half their life: a few renewals at most,
    // where asking for every new token would be forty decisions (eighty requests here).
    expect((await decisions()) - before).toBeLessThan(10)
  })

  it('checks the signature and the times of every new token itself', async () => {
    const now = Math.floor(Date.now() / 1000)
    const flipped = (t: string) => {
      const [h, c, s] = parts(t)
      const sig = Buffer.from(s, 'base64url')
      sig[10] = sig[10]! ^ 1
      return `${h}.${c}.${b64(sig)}`
    }
    // 256 bytes of signature leave 4 spare bits in the last character: set one, same bytes.
    const nonCanonical = (t: string) => {
      const [h, c, s] = parts(t)
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
      const last = alphabet.indexOf(s.at(-1)!)
      return `${h}.${c}.${s.slice(0, -1)}${alphabet[last | 1]}`
    }
    const forged: [string, string, number][] = [
      ['a signature with one bit flipped', flipped(fresh(annToken)), 401],
      ['a signature in non-canonical base64url', nonCanonical(fresh(annToken)), 401],
      ['signed by another key under the same header', sibling(annToken, { iat: now - 5000, exp: now + 3000 }, attackerKey().privateKey), 401],
      ['expired', sibling(annToken, { iat: now - 7300, exp: now - 3700 }), 401],
      ['issued in the future', sibling(annToken, { iat: now + 3600, exp: now + 7200 }), 401],
      ['living longer than a day', sibling(annToken, { iat: now - 6000, exp: now + 86_400 }), 401],
      ['another caller (no role) under the same header', fresh(bobToken), 403],
    ]
    for (const [what, token, status] of forged) {
      // A verdict for ann's identity is fresh when the forged token arrives.
      expect(await call(fresh(annToken))).toBe(200)
      expect({ what, status: await call(token) }).toEqual({ what, status })
    }
  })

  it('keeps what a renewal carries intact, and holds it while nothing changes: an email with + and @ reaches the upstream as it is', async () => {
    await createUser(p, 'cy+ops@example.com', 'cy-password-12345')
    expect((await p.cli(['services', 'add-iam-policy-binding', 'api', '--member=user:cy+ops@example.com', '--role=roles/run.invoker'])).code).toBe(0)
    const cy = (await signInUser(p, 'cy+ops@example.com', 'cy-password-12345')).idToken
    await eventually(5_000, async () => (await call(cy)) === 200, 'cy admitted')
    const before = { decisions: await decisions(), same: await renewals('same'), allow: await renewals('allow') }
    // Two seconds of requests: the verdict (half a second) is renewed in bulk once, in full, and
    // the answer, stamped with the view's epoch, is then held while the epoch stands. (Renewed at
    // half its life instead, it was asked for about four times a second.)
    const identities = new Set<string>()
    for (const until = Date.now() + 2_000; Date.now() < until; ) {
      expect(await call(cy)).toBe(200)
      const h = upstream.seen.at(-1)!.headers
      identities.add(JSON.stringify([h['x-postern-authenticated-email'], h['x-postern-authenticated-principal'], h.authorization, typeof h['x-postern-jwt-assertion']]))
      await new Promise((r) => setTimeout(r, 20))
    }
    const renewed = (await renewals('same')) - before.same + (await renewals('allow')) - before.allow
    const decided = (await decisions()) - before.decisions
    expect(renewed).toBeGreaterThanOrEqual(1)
    expect(renewed).toBeLessThanOrEqual(2)
    // Nor was the verdict dropped and asked for again by a request.
    expect(decided - renewed).toBeLessThanOrEqual(1)
    expect([...identities].map((i) => JSON.parse(i) as unknown)).toEqual([['cy+ops@example.com', 'user:cy+ops@example.com', `Bearer ${cy.split('.').slice(0, 2).join('.')}.SIGNATURE_REMOVED_BY_POSTERN`, 'string']])
  })

  it('asks Postern once for a burst of new tokens of a caller it holds no verdict for, and each refusal still on its own', async () => {
    await createUser(p, 'di@example.com', 'di-password-12345')
    expect((await p.cli(['services', 'add-iam-policy-binding', 'api', '--member=user:di@example.com', '--role=roles/run.invoker'])).code).toBe(0)
    const di = (await signInUser(p, 'di@example.com', 'di-password-12345')).idToken
    const before = await decisions()
    // Thirty tokens of di, none sent before, at once (a connection each): one asks Postern, the
    // others wait for its verdict and are admitted on it.
    const burst = await Promise.all(Array.from({ length: 30 }, () => call(fresh(di))))
    expect(burst).toEqual(Array.from({ length: 30 }, () => 200))
    // One decision (a bulk renewal of it may follow within the second).
    expect((await decisions()) - before).toBeLessThanOrEqual(2)
    // A refusal is never shared: a burst of bob's (no role) is refused, and audited, one by one.
    const deniedBefore = await decisions('denied')
    const refused = await Promise.all(Array.from({ length: 10 }, () => call(fresh(bobToken))))
    expect(refused).toEqual(Array.from({ length: 10 }, () => 403))
    expect((await decisions('denied')) - deniedBefore).toBe(10)
  })

  it('refuses the caller’s tokens, new and held, within a second of the role being removed', async () => {
    // Held by its epoch: ann's verdict has been renewed in full once, and stands while nothing changes.
    for (const until = Date.now() + 1_000; Date.now() < until; ) {
      expect(await call(annToken)).toBe(200)
      expect(await call(fresh(annToken))).toBe(200)
      await new Promise((r) => setTimeout(r, 20))
    }
    expect((await p.cli(['services', 'remove-iam-policy-binding', 'api', '--member=user:ann@example.com', '--role=roles/run.invoker'])).code).toBe(0)
    const took = await eventually(3_000, async () => (await call(fresh(annToken))) === 403, 'a new token of ann refused')
    expect(took).toBeLessThan(1_500)
    const tookHeld = await eventually(3_000, async () => (await call(annToken)) === 403, 'ann’s held token refused')
    expect(took + tookHeld).toBeLessThan(1_500)
  })
})
