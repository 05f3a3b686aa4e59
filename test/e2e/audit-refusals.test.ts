import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startPostern, type PosternProcess } from '../support/server.js'
import { signInUser } from '../support/sign-in.js'
import { WebAgent } from '../support/web-sign-in.js'

/**
 * The audit log is what it says — "every change, and every call that was denied": API calls
 * refused with PERMISSION_DENIED and failed sign-ins are there, counted per principal, resource
 * and minute (bounded however many there are), and can be read by outcome.
 */
interface Entry {
  principal: string
  method: string
  resource: string
  outcome: string
  count: number
  details: Record<string, unknown>
}

describe('refusals in the audit log', () => {
  let p: PosternProcess
  let ann: { configDir: string }
  const read = async (...args: string[]) => {
    const r = await p.cli(['logs', 'read', '--limit=200', '--format=json', ...args])
    expect(r.code, r.stderr).toBe(0)
    return JSON.parse(r.stdout) as Entry[]
  }
  /** Refusals are written off the request path within a second; wait for the count to arrive. */
  const total = async (match: (e: Entry) => boolean, expected: number) => {
    await expect.poll(async () => (await read()).filter(match).reduce((n, e) => n + e.count, 0), { timeout: 5_000, interval: 250 }).toBe(expected)
  }

  beforeAll(async () => {
    p = await startPostern()
    const created = await p.cli(['users', 'create', 'ann@example.com', '--password-stdin'], { stdin: 'ann-password-1234' })
    expect(created.code, created.stderr).toBe(0)
    ann = await signInUser(p, 'ann@example.com', 'ann-password-1234')
  })
  afterAll(() => p?.stop())

  it('records reads and writes refused with PERMISSION_DENIED, 25 refusals in at most two entries', async () => {
    // $ postern services list          (ann holds no role)
    for (let i = 0; i < 25; i++) {
      const r = await p.cli(['services', 'list'], { configDir: ann.configDir })
      expect(r.code).toBe(1)
      expect(r.stderr).toContain('PERMISSION_DENIED')
    }
    // $ postern services create x --upstream=…
    expect((await p.cli(['services', 'create', 'sneaky', '--upstream=http://127.0.0.1:9000'], { configDir: ann.configDir })).code).toBe(1)
    const listing = (e: Entry) => e.principal === 'user:ann@example.com' && e.method === 'run.services.list' && e.resource === 'projects/my-project' && e.outcome === 'PERMISSION_DENIED'
    await total(listing, 25)
    expect((await read()).filter(listing).length).toBeLessThanOrEqual(2) // one per minute
    await total((e) => e.principal === 'user:ann@example.com' && e.method === 'services.create' && e.outcome === 'PERMISSION_DENIED', 1)
  })

  it('records failed sign-ins, counted per account', async () => {
    for (let i = 0; i < 3; i++) {
      const res = await new WebAgent(p.controlUrl).signIn('ann@example.com', 'not the password')
      expect(res.status).toBe(401)
    }
    await total((e) => e.method === 'signin' && e.resource === 'users/ann@example.com' && e.outcome === 'UNAUTHENTICATED' && e.principal === 'anonymous', 3)
    const [entry] = (await read()).filter((e) => e.method === 'signin')
    expect(entry!.details.address).toBe('127.0.0.1')
  })

  it('reads one outcome at a time: postern logs read --outcome', async () => {
    // $ postern logs read --outcome=PERMISSION_DENIED
    const denied = await read('--outcome=PERMISSION_DENIED')
    expect(denied.length).toBeGreaterThan(0)
    expect(new Set(denied.map((e) => e.outcome))).toEqual(new Set(['PERMISSION_DENIED']))
    const failed = await read('--outcome=unauthenticated')
    expect(new Set(failed.map((e) => e.method))).toEqual(new Set(['signin']))
    const ok = await read('--outcome=OK')
    expect(ok.some((e) => e.method === 'users.create')).toBe(true)
    const bad = await p.cli(['logs', 'read', '--outcome=ok; drop table'])
    expect(bad.code).toBe(1)
    expect(bad.stderr).toContain('INVALID_ARGUMENT')
  })
})
