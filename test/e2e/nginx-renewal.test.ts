import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { printedDecisionKey } from '../support/decision-key.js'
import { eventually } from '../support/eventually.js'
import { startPostern, type PosternProcess } from '../support/server.js'
import { createUser, signInUser } from '../support/sign-in.js'
import { startUpstream } from '../support/upstream.js'

/**
 * The bulk renewal the nginx data plane's workers send (src/gateway/nginx/renewal.ts): one line
 * per verdict, one answer line each, in order. Asked here on a Node gateway's port, where
 * Postern's internal endpoints answer on a host that is no service (as `postern nginx-config`'s
 * nginx asks them). On a test clock (core/test-clock.ts), to see what passing time does to a
 * line answered before.
 */
describe('renewing nginx verdicts in bulk', () => {
  let p: PosternProcess
  let upstream: Awaited<ReturnType<typeof startUpstream>>
  let ann: string
  let bob: string
  let cy: string
  let clockFile: string
  let decisionKey: string
  /** Moves the server's clock this many seconds ahead of the real time (never back). */
  const skewClock = (seconds: number) => writeFileSync(clockFile, String(Math.ceil(seconds)))
  const api = () => `api.my-project.localhost:${p.gatewayPort}`
  const renew = async (body: string) => {
    const res = await request(`http://127.0.0.1:${p.gatewayPort}/_postern/nginx/renew`, { method: 'POST', body, headers: { host: 'postern-decision.invalid', 'x-postern-decision-key': decisionKey } })
    return { status: res.statusCode, text: await res.body.text(), epoch: res.headers['x-postern-epoch'] }
  }

  beforeAll(async () => {
    upstream = await startUpstream()
    clockFile = join(mkdtempSync(join(tmpdir(), 'postern-clock-')), 'skew')
    writeFileSync(clockFile, '0')
    p = await startPostern({ env: { NODE_ENV: 'test', POSTERN_TEST_ONLY_CLOCK_FILE: clockFile } })
    expect((await p.cli(['services', 'create', 'api', `--upstream=${upstream.url}`])).code).toBe(0)
    await createUser(p, 'ann@example.com', 'ann-password-123')
    await createUser(p, 'bob@example.com', 'bob-password-123')
    await createUser(p, 'cy+ops@example.com', 'cy-password-12345')
    expect((await p.cli(['services', 'add-iam-policy-binding', 'api', '--member=user:ann@example.com', '--role=roles/run.invoker'])).code).toBe(0)
    expect((await p.cli(['services', 'add-iam-policy-binding', 'api', '--member=user:cy+ops@example.com', '--role=roles/run.invoker'])).code).toBe(0)
    ann = (await signInUser(p, 'ann@example.com', 'ann-password-123')).idToken
    bob = (await signInUser(p, 'bob@example.com', 'bob-password-123')).idToken
    cy = (await signInUser(p, 'cy+ops@example.com', 'cy-password-12345')).idToken
    decisionKey = await printedDecisionKey(p, ['--data-dir', p.dataDir])
  })
  afterAll(async () => {
    await Promise.all([p?.stop(), upstream?.close()])
  })

  it('answers each line in order: allow with the verdict, or refuse', async () => {
    const host = `api.my-project.localhost:${p.gatewayPort}`
    const lines = [`GET\t${host}\tBearer ${ann}`, `GET\t${host}\tBearer ${bob}`, `GET\tnowhere.my-project.localhost\tBearer ${ann}`, 'not a line', `GET\t${host}\tBearer ${ann}\tstamp\textra`, `POST\t${host}\tBearer ${ann}`]
    const { status, text } = await renew(lines.join('\n'))
    expect(status).toBe(200)
    const answers = text.split('\n').map((l) => l.split('\t'))
    expect(answers.map((a) => a[0])).toEqual(['allow', 'refuse', 'refuse', 'refuse', 'refuse', 'allow'])
    const [, ms, upstreamBlock, basePath, upstreamHost, timeout, resource, principal, email, assertion, authorization] = answers[0]!.map(decodeURIComponent)
    expect(Number(ms)).toBeGreaterThan(0)
    expect(Number(ms)).toBeLessThanOrEqual(500)
    expect(upstreamBlock).toMatch(/^http:\/\/postern_/)
    expect({ basePath, upstreamHost, timeout, resource, principal, email }).toEqual({ basePath: '', upstreamHost: new URL(upstream.url).host, timeout: '300', resource: 'projects/my-project/services/api', principal: 'user:ann@example.com', email: 'ann@example.com' })
    expect(assertion!.split('.')).toHaveLength(3)
    expect(authorization).toBe(`Bearer ${ann.split('.').slice(0, 2).join('.')}.SIGNATURE_REMOVED_BY_POSTERN`)
  })

  it('percent-encodes a field only when it holds a tab, a line break, % or +', async () => {
    const { text } = await renew(`GET\tapi.my-project.localhost:${p.gatewayPort}\tBearer ${cy}`)
    const [verdict, , , , , , , principal, email, assertion, authorization] = text.split('\t')
    expect(verdict).toBe('allow')
    expect({ principal, email }).toEqual({ principal: encodeURIComponent('user:cy+ops@example.com'), email: encodeURIComponent('cy+ops@example.com') })
    expect(assertion).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/)
    expect(authorization).toBe(`Bearer ${cy.split('.').slice(0, 2).join('.')}.SIGNATURE_REMOVED_BY_POSTERN`)
  })

  it('is there only for an nginx that shows the decision key: to anyone else, the data plane’s paths are not found', async () => {
    const line = `GET\t${api()}\tBearer ${ann}`
    const ask = async (path: string, key: string | undefined) => {
      const res = await request(`http://127.0.0.1:${p.gatewayPort}${path}`, {
        method: path.endsWith('renew') ? 'POST' : 'GET',
        body: path.endsWith('renew') ? line : undefined,
        headers: { host: 'postern-decision.invalid', authorization: `Bearer ${ann}`, 'x-postern-original-host': api(), ...(key !== undefined && { 'x-postern-decision-key': key }) },
      })
      // All it says, headers and body: a decision's verdict is in its headers.
      return { status: res.statusCode, said: JSON.stringify(res.headers) + (await res.body.text()) }
    }
    const upstreamHost = new URL(upstream.url).host
    const paths = ['/_postern/nginx/renew', '/_postern/nginx/decide', '/_postern/nginx/upstream-error?status=502']
    for (const path of paths) {
      for (const key of [undefined, '', 'x'.repeat(decisionKey.length), decisionKey.slice(0, -1), `${decisionKey}x`]) {
        const r = await ask(path, key)
        expect({ path, key, status: r.status }).toEqual({ path, key, status: 404 })
        expect(r.said).not.toContain(upstreamHost)
      }
    }
    // The operator is told, once however many knock: an nginx printed for another master key would look like this.
    expect(p.output().match(/decisions without its key/g)).toHaveLength(1)
    // With the key: each answers (the renewal and the decision allow ann, naming the upstream).
    const answered = await Promise.all(paths.map((path) => ask(path, decisionKey)))
    expect(answered.map((r) => r.status)).toEqual([200, 200, 502])
    expect(answered.slice(0, 2).map((r) => r.said.includes(upstreamHost))).toEqual([true, true])
  })

  it('refuses a renewal that is not a POST or is too large, and answers an empty one with nothing', async () => {
    const get = await request(`http://127.0.0.1:${p.gatewayPort}/_postern/nginx/renew`, { headers: { host: 'postern-decision.invalid', 'x-postern-decision-key': decisionKey } })
    expect(get.statusCode).toBe(400)
    await get.body.dump()
    expect(await renew('')).toMatchObject({ status: 200, text: '' })
    const huge = await renew('x'.repeat(10 * 1024 * 1024)).catch((err: Error) => ({ status: 0, text: err.message }))
    expect(huge.status).not.toBe(200)
  })

  it('answers a line again while nothing changes, and decides it anew once a change is applied', async () => {
    const line = `GET\t${api()}\tBearer ${ann}`
    const [asked, again] = [await renew(line), await renew(line)]
    const [first, second] = [asked.text.split('\t'), again.text.split('\t')]
    expect(first[0]).toBe('allow')
    // The same verdict, the assertion included, and the stamp that names it; only the cache and hold milliseconds may differ.
    expect(second.slice(2, -1)).toEqual(first.slice(2, -1))
    const stamp = first.at(-2)!
    // The stamp is the epoch the answer was given in, a dot and a serial; the answer says the epoch now.
    expect(stamp).toMatch(/^[\w-]+\.\d+\.\d+\.[0-9a-z]+$/)
    expect(stamp.slice(0, stamp.lastIndexOf('.'))).toBe(asked.epoch)
    expect(again.epoch).toBe(asked.epoch)
    // Held while the epoch stands: for seconds (until Postern would decide it anew), not the half second a verdict is cached.
    const hold = Number(first.at(-1))
    expect(hold).toBeGreaterThan(5_000)
    expect(hold).toBeLessThanOrEqual(10_000)
    // nginx, holding that answer, sends its stamp: it is told its fields still hold, and for how long.
    const same = (await renew(`${line}\t${stamp}`)).text.split('\t')
    expect(same[0]).toBe('same')
    expect(same).toHaveLength(3)
    expect(Number(same[1])).toBeGreaterThan(0)
    expect(Number(same[1])).toBeLessThanOrEqual(500)
    expect(Number(same[2])).toBeGreaterThan(5_000)
    expect(Number(same[2])).toBeLessThanOrEqual(hold)
    // A stamp naming another answer gets the fields.
    const other = (await renew(`${line}\t${stamp}x`)).text.split('\t')
    expect(other[0]).toBe('allow')
    expect(other.slice(2, -1)).toEqual(first.slice(2, -1))
    // An empty renewal is how nginx asks for the epoch alone.
    expect(await renew('')).toEqual({ status: 200, text: '', epoch: asked.epoch })
    expect((await p.cli(['services', 'remove-iam-policy-binding', 'api', '--member=user:ann@example.com', '--role=roles/run.invoker'])).code).toBe(0)
    try {
      await eventually(1_000, async () => (await renew(`${line}\t${stamp}`)).text === 'refuse', 'the renewal refused within a second of the role being removed')
      // The change moved the epoch: nothing nginx holds from before stands on it.
      const moved = (await renew('')).epoch
      expect(moved).toMatch(/^[\w-]+\.\d+\.\d+$/)
      expect(moved).not.toBe(asked.epoch)
    } finally {
      expect((await p.cli(['services', 'add-iam-policy-binding', 'api', '--member=user:ann@example.com', '--role=roles/run.invoker'])).code).toBe(0)
    }
    await eventually(1_000, async () => (await renew(`${line}\t${stamp}`)).text.startsWith('allow\t'), 'allowed again, with the fields: the old stamp names no answer now')
  })

  // Last: the test clock only runs ahead.
  it('decides every time a line whose grant has a condition, and gives no time past the token’s expiry', async () => {
    // Dee may invoke until a moment six seconds away (time for the CLI on a busy machine), by a
    // condition: no change will come when it passes. The clock is then moved just past it, while
    // an unconditional answer given to dee's first renewal would still be reused (for 10 s).
    await createUser(p, 'dee@example.com', 'dee-password-123')
    const dee = (await signInUser(p, 'dee@example.com', 'dee-password-123')).idToken
    const end = Date.now() + 6_000
    const binding = await p.cli(['services', 'add-iam-policy-binding', 'api', '--member=user:dee@example.com', '--role=roles/run.invoker', `--condition=expression=request.time < timestamp('${new Date(end).toISOString()}'),title=a few seconds`])
    expect(binding.code, binding.stderr).toBe(0)
    const deeLine = `GET\t${api()}\tBearer ${dee}`
    await eventually(2_000, async () => (await renew(deeLine)).text.startsWith('allow\t'), 'dee allowed')
    skewClock((end + 1_000 - Date.now()) / 1000)
    await eventually(1_000, async () => (await renew(deeLine)).text === 'refuse', 'dee refused once the condition is false')

    // Ann's token five seconds from its expiry: allowed, for at most those seconds.
    const exp = (JSON.parse(Buffer.from(ann.split('.')[1]!, 'base64url').toString()) as { exp: number }).exp
    skewClock((exp * 1000 - 5_000 - Date.now()) / 1000)
    // A token signed on the new clock says when the view is fresh again (a jump of an hour makes it stale until the next poll).
    const fresh = (await signInUser(p, 'cy+ops@example.com', 'cy-password-12345')).idToken
    const annLine = `GET\t${api()}\tBearer ${ann}`
    const both = async () => (await renew(`${annLine}\nGET\t${api()}\tBearer ${fresh}`)).text.split('\n').map((l) => l.split('\t').slice(0, 2))
    await eventually(5_000, async () => (await both()).every(([v]) => v === 'allow'), 'both tokens allowed')
    const ms = (await both())[0]![1]
    expect(Number(ms)).toBeGreaterThan(0)
    expect(Number(ms)).toBeLessThanOrEqual(500)
    // Past its expiry (Postern's leeway may still admit it): nginx may keep it for no time at all.
    skewClock((exp * 1000 + 1_000 - Date.now()) / 1000)
    await eventually(2_000, async () => {
      const [annVerdict, freshVerdict] = await both()
      return (annVerdict![0] === 'refuse' || annVerdict![1] === '0') && freshVerdict![0] === 'allow'
    }, 'no time given past the token’s expiry')
  })
})
