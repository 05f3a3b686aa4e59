import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from '../support/cli.js'
import { startPostern, type PosternProcess } from '../support/server.js'
import { createUser, signInUser } from '../support/sign-in.js'
import { startUpstream } from '../support/upstream.js'

/**
 * Access requests with real processes (DESIGN §9): a developer asks for the invoker role for a
 * while, someone who may set the service's policy approves, the developer gets 200 at the gateway
 * within a second of `--wait` returning; when the clock passes the grant's end the gateway says
 * 403 again, and Postern removes the binding itself, with every step in the audit log. Then each
 * refusal, and concurrent approvals through the CLI.
 */
interface AccessRequest {
  id: string
  state: string
  requester: string
  role: string
  expireTime?: string
  grantedDuration?: string
  canDecide: boolean
}

interface Policy {
  bindings?: { role: string; members: string[]; condition?: { title: string; expression: string; description?: string } }[]
  etag?: string
}

interface AuditEntry {
  principal: string
  method: string
  outcome: string
  details: Record<string, unknown>
}

const SERVICE = 'projects/my-project/services/api'
const DEV = 'dev@example.com'
const APPROVER = 'approver@example.com'
const OTHER = 'other@example.com'

let p: PosternProcess
let clockFile: string
let upstream: Awaited<ReturnType<typeof startUpstream>>
let dev: string
let approver: string
let other: string

const as = (configDir: string) => (args: string[], timeoutMs?: number) => runCli(args, { configDir, timeoutMs })
const owner = (args: string[]) => p.cli(args)
/** Moves the server's clock forward by this many seconds from the real time (core/test-clock.ts). */
const skewClock = (seconds: number) => writeFileSync(clockFile, String(seconds))

async function identityToken(configDir: string): Promise<string> {
  const token = await as(configDir)(['auth', 'print-identity-token'])
  expect(token.code, token.stderr).toBe(0)
  return token.stdout.trim()
}

async function accessToken(configDir: string): Promise<string> {
  const token = await as(configDir)(['auth', 'print-access-token'])
  expect(token.code, token.stderr).toBe(0)
  return token.stdout.trim()
}

/** A call to the service at the gateway, with the caller's token (asked of the CLI when not given). */
async function gateway(configDir: string, token?: string): Promise<{ status: number; body: string }> {
  const res = await request(`http://127.0.0.1:${p.gatewayPort}/`, { headers: { host: `api.my-project.localhost:${p.gatewayPort}`, authorization: `Bearer ${token ?? (await identityToken(configDir))}` } })
  return { status: res.statusCode, body: await res.body.text() }
}

async function within(ms: number, check: () => Promise<boolean>, what: string): Promise<number> {
  const started = Date.now()
  for (;;) {
    if (await check()) return Date.now() - started
    if (Date.now() - started > ms) throw new Error(`${what}: not within ${ms} ms`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

const policy = async () => (await p.api<Policy>('POST', `/v2/${SERVICE}:getIamPolicy`, {})).body
const audit = async () => (await p.api<{ entries?: AuditEntry[] }>('GET', `/v1/auditLogs?resource=${encodeURIComponent(SERVICE)}&pageSize=200`)).body.entries ?? []
const requests = async (configDir: string, all = true): Promise<AccessRequest[]> => {
  const r = await as(configDir)(['access-requests', 'list', ...(all ? ['--all'] : []), '--format=json'])
  expect(r.code, r.stderr).toBe(0)
  return JSON.parse(r.stdout) as AccessRequest[]
}

beforeAll(async () => {
  clockFile = join(mkdtempSync(join(tmpdir(), 'postern-clock-')), 'skew')
  writeFileSync(clockFile, '0')
  p = await startPostern({ env: { NODE_ENV: 'test', POSTERN_TEST_ONLY_CLOCK_FILE: clockFile } })
  expect(p.output()).toContain('WARNING: running on a test clock')
  upstream = await startUpstream()
  expect((await owner(['services', 'create', 'api', `--upstream=${upstream.url}`])).code).toBe(0)
  for (const email of [DEV, APPROVER, OTHER]) await createUser(p, email, 'correct horse battery staple')
  // Accounts the concurrent edits below grant roles to (grants name accounts that exist).
  for (const name of ['ann', 'ben', 'cat', 'dan']) expect((await owner(['users', 'create', `${name}@example.com`])).code).toBe(0)
  expect((await owner(['services', 'add-iam-policy-binding', 'api', `--member=user:${APPROVER}`, '--role=roles/run.admin'])).code).toBe(0)
  dev = (await signInUser(p, DEV, 'correct horse battery staple')).configDir
  approver = (await signInUser(p, APPROVER, 'correct horse battery staple')).configDir
  other = (await signInUser(p, OTHER, 'correct horse battery staple')).configDir
}, 120_000)

afterAll(async () => {
  await p?.stop()
  await upstream?.close()
})

describe('access requests', () => {
  it('request → approve → 200 within a second of --wait returning → the clock passes the end → 403 → Postern removes the grant, all in the audit log', async () => {
    // Nothing filed yet: said once, in the list's own words (it also said gcloud's "Listed 0 items.").
    expect(await as(approver)(['access-requests', 'list'])).toMatchObject({ code: 0, stdout: '', stderr: 'No pending access requests you may see.\n' })
    const denied = await gateway(dev)
    expect(denied.status).toBe(403)
    expect(denied.body).toContain(`postern services add-iam-policy-binding api --project=my-project --member='user:${DEV}' --role='roles/run.invoker'`)
    expect(denied.body).toContain('postern services request-access api --project=my-project --for=1h')
    expect(denied.body).not.toContain('--condition=None')

    // The token first: the second below is the gateway's, not a CLI's start-up on a busy machine.
    const devToken = await identityToken(dev)
    const waiting = as(dev)(['services', 'request-access', 'api', '--for=10m', '--reason=debugging incident 4711', '--wait'])
    let pending: AccessRequest | undefined
    await within(10_000, async () => (pending = (await requests(approver, false)).find((r) => r.requester === `user:${DEV}`)) !== undefined, 'the request is listed for the approver')
    expect(pending).toMatchObject({ state: 'PENDING', role: 'roles/run.invoker', canDecide: true })
    const id = pending!.id

    const approved = await as(approver)(['access-requests', 'approve', id])
    expect(approved.code, approved.stderr).toBe(0)
    expect(approved.stderr).toContain(`Approved access request [${id}]: user:${DEV} holds roles/run.invoker on ${SERVICE} until`)
    const waited = await waiting
    expect(waited.code, waited.stderr).toBe(0)
    expect(waited.stderr).toContain(`Approved by user:${APPROVER}: you hold roles/run.invoker on service [api] until`)
    const elapsed = await within(1_000, async () => (await gateway(dev, devToken)).status === 200, 'the requester gets 200')
    expect(elapsed).toBeLessThan(1_000)
    // With the grant's conditional binding in the policy, the command a denial offers says it adds
    // none, as such a policy needs (the CLI refuses a bare one there, as gcloud does).
    const otherDenied = await gateway(other)
    expect(otherDenied.status).toBe(403)
    expect(otherDenied.body).toContain(`--member='user:${OTHER}' --role='roles/run.invoker' --condition=None;`)

    const grant = (await policy()).bindings?.find((b) => b.condition?.title === `Access request ${id}`)
    expect(grant).toMatchObject({ role: 'roles/run.invoker', members: [`user:${DEV}`] })
    expect(grant!.condition!.expression).toMatch(/^request\.time < timestamp\('\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z'\)$/)
    expect(grant!.condition!.description).toContain('debugging incident 4711')

    // Ten minutes and a bit later (by the server's clock): the condition is false, so the gateway
    // refuses at once, and the sweep then removes the binding and records the expiry.
    skewClock(11 * 60)
    await within(2_000, async () => (await gateway(dev)).status === 403, 'the grant ends at the gateway')
    await within(15_000, async () => !(await policy()).bindings?.some((b) => b.condition?.title === `Access request ${id}`), 'the binding is removed')
    const ended = (await requests(dev)).find((r) => r.id === id)
    expect(ended).toMatchObject({ state: 'EXPIRED' })

    const steps = (await audit()).filter((e) => e.details.request === id).map((e) => [e.method, e.outcome, e.principal]).reverse()
    expect(steps).toEqual([
      ['accessRequests.create', 'OK', `user:${DEV}`],
      ['accessRequests.approve', 'OK', `user:${APPROVER}`],
      ['accessRequests.expire', 'OK', 'system'],
    ])
  }, 90_000)

  it('refuses: one’s own approval, an approver without setIamPolicy, unknown ids, a role one already has, a duplicate, durations that do not parse or exceed the limit — and saves nothing', async () => {
    const before = (await requests(approver)).length
    const policyBefore = await policy()

    // Durations: not a duration (a usage error), below the minimum, above the default limit of 8h.
    const garbled = await as(dev)(['services', 'request-access', 'api', '--for=2 hours', '--reason=x'])
    expect(garbled.code).toBe(2)
    expect(garbled.stderr).toContain("'2 hours' is not a duration")
    const tooLong = await as(dev)(['services', 'request-access', 'api', '--for=9h', '--reason=x'])
    expect(tooLong.code).toBe(1)
    expect(tooLong.stderr).toContain('(INVALID_ARGUMENT) The requested duration (9h) exceeds the maximum of 8h for projects/my-project/services/api')
    const tooShort = await as(dev)(['services', 'request-access', 'api', '--for=10s', '--reason=x'])
    expect(tooShort.stderr).toContain('shorter than the minimum of 1m')
    const noReason = await as(dev)(['services', 'request-access', 'api', '--for=1h', '--reason=  '])
    expect(noReason.stderr).toContain('say why you need access')
    const wrongRole = await as(dev)(['services', 'request-access', 'api', '--for=1h', '--reason=x', '--role=roles/iam.serviceAccountTokenCreator'])
    expect(wrongRole.stderr).toContain('grants nothing on a service')
    // A role that applies higher up, which setIamPolicy refuses on a service, cannot arrive by approval either.
    for (const role of ['roles/owner', 'roles/editor', 'roles/viewer']) {
      const higher = await as(dev)(['services', 'request-access', 'api', '--for=1h', '--reason=x', `--role=${role}`])
      expect(higher.code, role).toBe(1)
      expect(higher.stderr).toContain(`(INVALID_ARGUMENT) ${role} cannot be granted on a service; ask for one of: roles/run.invoker`)
    }
    const noService = await as(dev)(['services', 'request-access', 'nope', '--for=1h', '--reason=x'])
    expect(noService.stderr).toContain("(NOT_FOUND) Service 'nope' not found")

    // An admin lowers the limit; a request for more is refused naming the new one.
    const limit = await as(approver)(['services', 'update', 'api', '--max-access-request-duration=1h'])
    expect(limit.code, limit.stderr).toBe(0)
    expect(limit.stderr).toContain('may now ask for at most 1h')
    const overLimit = await as(dev)(['services', 'request-access', 'api', '--for=2h', '--reason=x'])
    expect(overLimit.stderr).toContain('exceeds the maximum of 1h')
    const devLimit = await as(dev)(['services', 'update', 'api', '--max-access-request-duration=8h'])
    expect(devLimit.stderr).toContain('PERMISSION_DENIED')
    // Refused at the read, an edit names the role that may change the policy, not one that may only read it.
    const devGrant = await as(dev)(['services', 'add-iam-policy-binding', 'api', `--member=user:${DEV}`, '--role=roles/run.invoker'])
    expect(devGrant.code).toBe(1)
    expect(devGrant.stderr).toContain("Permission 'run.services.getIamPolicy' denied")
    expect(devGrant.stderr).toContain("Changing the policy needs 'run.services.setIamPolicy': a role that allows it is Run Admin (roles/run.admin).")
    expect(devGrant.stderr).not.toContain('Run Viewer')

    // A role the requester already has: the owner holds everything.
    const held = await owner(['services', 'request-access', 'api', '--for=1h', '--reason=x'])
    expect(held.code).toBe(1)
    expect(held.stderr).toContain('(ALREADY_EXISTS) You already have every permission of roles/run.invoker on projects/my-project/services/api (granted by roles/owner on organizations/local to user:owner@example.com)')
    expect((await requests(approver)).length).toBe(before)

    // One real request; asking again while it is pending is refused.
    const filed = await as(dev)(['services', 'request-access', 'api', '--for=30m', '--reason=second look', '--format=json'])
    expect(filed.code, filed.stderr).toBe(0)
    const id = (JSON.parse(filed.stdout) as AccessRequest).id
    const again = await as(dev)(['services', 'request-access', 'api', '--for=30m', '--reason=again'])
    expect(again.stderr).toContain(`request ${id} is pending`)

    const own = await as(dev)(['access-requests', 'approve', id])
    expect(own.code).toBe(1)
    expect(own.stderr).toContain(`(PERMISSION_DENIED) You cannot approve your own access request '${id}'`)
    const notAllowed = await as(other)(['access-requests', 'approve', id])
    expect(notAllowed.stderr).toContain("(PERMISSION_DENIED) Permission 'run.services.setIamPolicy' denied on resource 'projects/my-project/services/api'")
    const overApproval = await as(approver)(['access-requests', 'approve', id, '--for=2h'])
    expect(overApproval.stderr).toContain('The approved duration (2h) exceeds the maximum of 1h')
    const unknown = await as(approver)(['access-requests', 'approve', 'aaaaaaaaaa'])
    expect(unknown.stderr).toContain("(NOT_FOUND) Access request 'aaaaaaaaaa' not found")
    const malformed = await as(approver)(['access-requests', 'deny', 'not-an-id'])
    expect(malformed.stderr).toContain('is not an access request id')
    const hidden = await as(other)(['access-requests', 'describe', id])
    expect(hidden.stderr).toContain('PERMISSION_DENIED')
    expect((await policy()).bindings).toEqual(policyBefore.bindings)

    // The name list prints (--format='value(name)') is taken wherever the id is, as gcloud takes a resource's.
    const name = `accessRequests/${id}`
    expect((await as(approver)(['access-requests', 'list', '--format=value(name)'])).stdout.split('\n')).toContain(name)
    const described = await as(approver)(['access-requests', 'describe', name, '--format=json'])
    expect(described.code, described.stderr).toBe(0)
    expect(JSON.parse(described.stdout)).toMatchObject({ id, state: 'PENDING' })

    // Denied, with a reason the requester's --wait reports (exit 1).
    const waiting = as(dev)(['access-requests', 'wait', name])
    const deny = await as(approver)(['access-requests', 'deny', name, '--reason=use the staging copy'])
    expect(deny.code, deny.stderr).toBe(0)
    expect(deny.stderr).toContain(`Denied access request [${id}].`)
    const waited = await waiting
    expect(waited.code).toBe(1)
    expect(waited.stderr).toContain(`Access request [${id}] was denied by user:${APPROVER}: use the staging copy`)
    const late = await as(approver)(['access-requests', 'approve', name, '--for=1h'])
    expect(late.stderr).toContain(`(FAILED_PRECONDITION) Access request '${id}' was denied by user:${APPROVER}`)
    expect((await policy()).bindings).toEqual(policyBefore.bindings)
    expect((await audit()).filter((e) => e.details.request === id).map((e) => `${e.method} ${e.outcome}`).reverse()).toEqual([
      'accessRequests.create OK',
      'accessRequests.approve PERMISSION_DENIED',
      'accessRequests.approve PERMISSION_DENIED',
      'accessRequests.deny OK',
    ])
    expect((await as(approver)(['services', 'update', 'api', '--max-access-request-duration=8h'])).code).toBe(0)
  }, 90_000)

  it('of concurrent approvals of one request exactly one wins, and the grant is written once', async () => {
    const filed = await as(other)(['services', 'request-access', 'api', '--for=20m', '--reason=race', '--format=json'])
    expect(filed.code, filed.stderr).toBe(0)
    const id = (JSON.parse(filed.stdout) as AccessRequest).id
    // Meanwhile an admin edits the same policy: the read-modify-write on both sides loses nothing.
    // (--condition=None: the policy holds the approvals' conditional bindings, and a binding added
    // to such a policy must say it has no condition, as with gcloud.)
    const edits = ['ann', 'ben', 'cat', 'dan'].map((n) => owner(['services', 'add-iam-policy-binding', 'api', `--member=user:${n}@example.com`, '--role=roles/run.viewer', '--condition=None', '--quiet']))
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? as(approver) : owner)(['access-requests', 'approve', id])))
    for (const e of await Promise.all(edits)) expect(e.code, e.stderr).toBe(0)
    expect((await policy()).bindings?.find((b) => b.role === 'roles/run.viewer' && !b.condition)?.members).toEqual(['user:ann@example.com', 'user:ben@example.com', 'user:cat@example.com', 'user:dan@example.com'])
    expect(results.filter((r) => r.code === 0)).toHaveLength(1)
    for (const loser of results.filter((r) => r.code !== 0)) expect(loser.stderr).toContain(`(FAILED_PRECONDITION) Access request '${id}' was already approved by`)
    expect((await policy()).bindings?.filter((b) => b.condition?.title === `Access request ${id}`)).toHaveLength(1)
    expect((await audit()).filter((e) => e.details.request === id && e.method === 'accessRequests.approve' && e.outcome === 'OK')).toHaveLength(1)
  }, 90_000)

  it('an approval for an account deleted since it asked is refused: a new account of the same name is someone else', async () => {
    await createUser(p, 'gone@example.com', 'correct horse battery staple')
    const gone = (await signInUser(p, 'gone@example.com', 'correct horse battery staple')).configDir
    const filed = await as(gone)(['services', 'request-access', 'api', '--for=20m', '--reason=before I leave', '--format=json'])
    expect(filed.code, filed.stderr).toBe(0)
    const id = (JSON.parse(filed.stdout) as AccessRequest).id
    expect((await owner(['users', 'delete', 'gone@example.com', '--quiet'])).code).toBe(0)
    await createUser(p, 'gone@example.com', 'another horse battery staple')
    const approve = await as(approver)(['access-requests', 'approve', id])
    expect(approve.code).toBe(1)
    expect(approve.stderr).toContain(`(FAILED_PRECONDITION) user:gone@example.com was deleted after request '${id}' was filed`)
    expect((await policy()).bindings?.some((b) => b.members.includes('user:gone@example.com'))).toBe(false)
  }, 90_000)

  let everything: string[] = []

  it('pages a long list: nextPageToken while more remain, none on the last page; a forged token is 400, never a 5xx', async () => {
    // 128 requests filed and denied through the API, one for each role that can be granted on a
    // service at a time (one pending request per role and service).
    const [devToken, approverToken, otherToken] = await Promise.all([dev, approver, other].map(accessToken))
    const roles = ['run.invoker', 'run.viewer', 'run.developer', 'run.admin']
    for (let round = 0; round < 32; round++) {
      await Promise.all(roles.map(async (role) => {
        const filed = await p.api<AccessRequest>('POST', '/v1/accessRequests', { resource: SERVICE, role: `roles/${role}`, duration: '600s', reason: `bulk ${round}` }, devToken)
        expect(filed.status, JSON.stringify(filed.body)).toBe(200)
        expect((await p.api('POST', `/v1/accessRequests/${filed.body.id}:deny`, {}, approverToken)).status).toBe(200)
      }))
    }
    type Page = { accessRequests?: (AccessRequest & { createTime: string })[]; nextPageToken?: string }
    const list = (query: string, token = approverToken) => p.api<Page>('GET', `/v1/accessRequests${query}`, undefined, token)

    const first = await list('')
    expect(first.status).toBe(200)
    expect(first.body.accessRequests).toHaveLength(100)
    expect(first.body.nextPageToken).toMatch(/^[A-Za-z0-9_-]+$/)
    const seen: string[] = []
    let token: string | undefined
    let pages = 0
    do {
      const page = await list(`?pageSize=40${token ? `&pageToken=${token}` : ''}`)
      expect(page.status, JSON.stringify(page.body)).toBe(200)
      seen.push(...(page.body.accessRequests ?? []).map((r) => r.id))
      token = page.body.nextPageToken
      pages++
    } while (token)
    expect(seen.length).toBeGreaterThanOrEqual(128)
    expect(new Set(seen).size).toBe(seen.length)
    expect(seen.slice(0, 100)).toEqual(first.body.accessRequests!.map((r) => r.id))
    expect(pages).toBe(Math.ceil(seen.length / 40))
    everything = seen
    // A page too large is cut to 500; a short list has no token at all, as before.
    expect((await list('?pageSize=100000')).body.nextPageToken).toBeUndefined()
    expect(Object.keys((await list('?state=PENDING')).body)).toEqual(['accessRequests'])
    expect((await list('', otherToken)).body.nextPageToken).toBeUndefined()

    const forged = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
    const audit = (await p.api<{ nextPageToken?: string }>('GET', '/v1/auditLogs?pageSize=1')).body.nextPageToken!
    for (const bad of ['-1', '99999999999999999999', 'not-a-token', '%00', audit, 'A'.repeat(5000), forged({ l: 'accessRequests', q: '', t: -5, i: 'aaaaaaaaaa' }),
      forged({ l: 'accessRequests', q: '', t: 1e300, i: 'aaaaaaaaaa' }), forged({ l: 'accessRequests', q: '', t: 10, i: "' OR 1=1 --" }), forged({ l: 'auditLogs', q: '', t: 10, i: 'aaaaaaaaaa' }), forged([])]) {
      const refused = await list(`?pageToken=${encodeURIComponent(bad)}`)
      expect(refused.status, bad).toBe(400)
      expect(JSON.stringify(refused.body), bad).toContain('INVALID_ARGUMENT')
    }
    // A token made for one filter is not a position in another.
    const deniedOnly = await list('?state=DENIED&pageSize=1')
    expect((await list(`?pageToken=${deniedOnly.body.nextPageToken}`)).status).toBe(400)
  }, 90_000)

  it('the CLI follows the pages of a long list, to --limit, --page-size at a time', async () => {
    expect(everything.length).toBeGreaterThan(100)
    const all = await as(approver)(['access-requests', 'list', '--all', '--format=json'])
    expect(all.code, all.stderr).toBe(0)
    expect((JSON.parse(all.stdout) as AccessRequest[]).map((r) => r.id)).toEqual(everything)
    const few = await as(approver)(['access-requests', 'list', '--all', '--limit=5', '--page-size=2', '--format=json', '--verbosity=debug'])
    expect(few.code, few.stderr).toBe(0)
    expect((JSON.parse(few.stdout) as AccessRequest[]).map((r) => r.id)).toEqual(everything.slice(0, 5))
    expect([...few.stderr.matchAll(/--> GET \S*\/v1\/accessRequests\?pageSize=(\d+)/g)].map((m) => m[1])).toEqual(['2', '2', '1'])
  }, 90_000)
})
