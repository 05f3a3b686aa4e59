import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventually } from '../support/eventually.js'
import { startPostern, type PosternProcess } from '../support/server.js'

interface Policy {
  bindings: { role: string; members: string[] }[]
  etag: string
}

describe('identities and access', () => {
  let p: PosternProcess
  let owner: string
  beforeAll(async () => {
    p = await startPostern()
    owner = await p.ownerToken()
    expect((await p.cli(['services', 'create', 'hello', '--upstream', 'http://127.0.0.1:9000'])).code).toBe(0)
  })
  afterAll(() => p?.stop())

  const getPolicy = (token = owner) => p.api<Policy>('POST', '/v2/projects/my-project/services/hello:getIamPolicy', {}, token)

  it('no token → 401 with a Bearer challenge; a garbage token → 401 invalid_token', async () => {
    const none = await fetch(`${p.controlUrl}/v2/projects/my-project/services`)
    expect(none.status).toBe(401)
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="postern"')
    expect(await none.json()).toMatchObject({ error: { code: 401, status: 'UNAUTHENTICATED' } })
    const bad = await fetch(`${p.controlUrl}/v2/projects/my-project/services`, { headers: { authorization: 'Bearer x.y.z' } })
    expect(bad.status).toBe(401)
    expect(bad.headers.get('www-authenticate')).toContain('error="invalid_token"')
  })

  it('a display name with a control character (a line break, NUL, ESC) is refused, naming the field; other text is kept', async () => {
    for (const [path, body] of [
      ['/v1/users', { email: 'crlf@example.com', displayName: 'Eve\r\nX-Evil: 1' }],
      ['/v1/groups', { email: 'nul-team@example.com', displayName: 'team\u0000' }],
      ['/v1/projects/my-project/serviceAccounts', { accountId: 'esc-bot', displayName: '\u001b[2Jbot' }],
    ] as const) {
      const r = await p.api<{ error: { message: string } }>('POST', path, body, owner)
      expect(r.status, path).toBe(400)
      expect(r.body.error.message, path).toBe('displayName: may not hold control characters or invisible marks that reorder or hide text.')
    }
    const kept = await p.api<{ displayName: string }>('POST', '/v1/users', { email: 'zoe@example.com', displayName: 'Zoë <ops> “team”' }, owner)
    expect(kept.status).toBe(200)
    expect(kept.body.displayName).toBe('Zoë <ops> “team”')
  })

  it('a look-alike (non-ASCII) member is rejected, naming it', async () => {
    const r = await p.cli(['services', 'add-iam-policy-binding', 'hello', '--member=user:аdmin@example.com', '--role=roles/run.invoker'])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('INVALID_ARGUMENT')
    expect(r.stderr).toContain('аdmin@example.com')
    expect(r.stderr).toContain('ASCII')
    expect((await getPolicy()).body.bindings).toEqual([])
  })

  it('deleting a user turns its bindings into deleted:user:…?uid=… that grant nothing; a new user with the same email has no access', async () => {
    const created = await p.api<{ uid: string; password: string }>('POST', '/v1/users', { email: 'Ann@Example.com' }, owner)
    expect(created.status).toBe(200)
    const uid = created.body.uid
    expect((await p.cli(['services', 'add-iam-policy-binding', 'hello', '--member=user:ann@example.com', '--role=roles/run.invoker'])).code).toBe(0)
    expect((await p.cli(['groups', 'create', 'devs@example.com'])).code).toBe(0)
    expect((await p.cli(['groups', 'add-member', 'devs@example.com', '--member=user:ann@example.com'])).code).toBe(0)

    const why = async () => JSON.parse((await p.cli(['services', 'why', 'hello', '--member=user:ann@example.com', '--format=json'])).stdout) as { access: string }
    expect((await why()).access).toBe('GRANTED')

    expect((await p.cli(['users', 'delete', 'ann@example.com'])).code).toBe(0)
    const after = (await getPolicy()).body
    expect(after.bindings).toEqual([{ role: 'roles/run.invoker', members: [`deleted:user:ann@example.com?uid=${uid}`] }])
    const group = JSON.parse((await p.cli(['groups', 'describe', 'devs@example.com', '--format=json'])).stdout) as { members: string[] }
    expect(group.members).toEqual([])

    const recreated = await p.api<{ uid: string }>('POST', '/v1/users', { email: 'ann@example.com' }, owner)
    expect(recreated.body.uid).not.toBe(uid)
    expect((await why()).access).toBe('NOT_GRANTED')
  })

  it('a user with only roles/run.viewer reads the policy but is refused setIamPolicy, naming the permission', async () => {
    const email = 'viewer@example.com'
    const created = await p.api<{ password: string }>('POST', '/v1/users', { email, password: 'viewer-password-1' }, owner)
    expect(created.status).toBe(200)
    expect((await p.cli(['projects', 'add-iam-policy-binding', 'my-project', `--member=user:${email}`, '--role=roles/run.viewer'])).code).toBe(0)
    // The caller holding only roles/run.viewer is a service account (its access token comes from
    // the impersonation API); user sign-in flows have their own tests.
    const sa = await p.api<{ email: string }>('POST', '/v1/projects/my-project/serviceAccounts', { accountId: 'viewer-bot' }, owner)
    expect(sa.status).toBe(200)
    expect((await p.cli(['projects', 'add-iam-policy-binding', 'my-project', `--member=serviceAccount:${sa.body.email}`, '--role=roles/run.viewer'])).code).toBe(0)
    expect((await p.cli(['iam', 'service-accounts', 'add-iam-policy-binding', sa.body.email, '--member=user:owner@example.com', '--role=roles/iam.serviceAccountTokenCreator'])).code).toBe(0)
    const minted = await p.api<{ accessToken: string; expireTime: string }>('POST', `/v1/projects/-/serviceAccounts/${sa.body.email}:generateAccessToken`, { scope: ['https://www.googleapis.com/auth/cloud-platform'] }, owner)
    expect(minted.status).toBe(200)
    expect(Date.parse(minted.body.expireTime)).toBeGreaterThan(Date.now() + 3500_000)
    const viewer = minted.body.accessToken
    // A lifetime past the server's (an hour here) is cut to it, as its expireTime and exp say: not refused.
    const long = await p.api<{ accessToken: string; expireTime: string }>('POST', `/v1/projects/-/serviceAccounts/${sa.body.email}:generateAccessToken`, { lifetime: '43200s' }, owner)
    expect(long.status, JSON.stringify(long.body)).toBe(200)
    const exp = (JSON.parse(Buffer.from(long.body.accessToken.split('.')[1]!, 'base64url').toString()) as { exp: number }).exp
    expect(Date.parse(long.body.expireTime)).toBe(exp * 1000)
    expect(exp * 1000 - Date.now()).toBeLessThanOrEqual(3600_000)
    // Its ID token, whatever its audience, is for services and is refused here.
    const idToken = await p.api<{ token: string }>('POST', `/v1/projects/-/serviceAccounts/${sa.body.email}:generateIdToken`, { audience: p.controlUrl }, owner)
    const refused = await getPolicy(idToken.body.token)
    expect(refused.status).toBe(401)
    expect(JSON.stringify(refused.body)).toContain('This is an ID token for services; the API takes an access token: postern auth print-access-token')

    const read = await getPolicy(viewer)
    expect(read.status).toBe(200)
    const write = await p.api('POST', '/v2/projects/my-project/services/hello:setIamPolicy', { policy: { bindings: [], etag: read.body.etag } }, viewer)
    expect(write.status).toBe(403)
    expect(JSON.stringify(write.body)).toContain("'run.services.setIamPolicy'")
    expect(JSON.stringify(write.body)).toContain(`serviceAccount:${sa.body.email}`)
    expect((await getPolicy()).body.etag).toBe(read.body.etag)
  })

  it('every mutation leaves an audit entry with who, what, when, the resource and the outcome', async () => {
    let entries: { time: string; principal: string; method: string; resource: string; outcome: string }[] = []
    const find = (method: string, resource: string, outcome = 'OK') => entries.find((e) => e.method === method && e.resource === resource && e.outcome === outcome)
    // Refusals are counted in memory and written every half second (gateway/denial-log.ts): the
    // last test's refused setIamPolicy may not be written yet.
    await eventually(5_000, async () => {
      const r = await p.cli(['logs', 'read', '--limit', '200', '--format=json'])
      expect(r.code).toBe(0)
      entries = JSON.parse(r.stdout) as typeof entries
      return find('setIamPolicy', 'projects/my-project/services/hello', 'PERMISSION_DENIED') !== undefined
    }, 'the refused setIamPolicy in the audit log', 200)
    expect(find('services.create', 'projects/my-project/services/hello')).toMatchObject({ principal: 'user:owner@example.com' })
    expect(find('users.delete', 'users/ann@example.com')).toBeTruthy()
    expect(find('groups.addMember', 'groups/devs@example.com')).toBeTruthy()
    expect(find('setIamPolicy', 'projects/my-project/services/hello', 'PERMISSION_DENIED')?.principal).toMatch(/^serviceAccount:viewer-bot@/)
    for (const e of entries) expect(Date.parse(e.time)).toBeGreaterThan(Date.now() - 600_000)
  })

  it('the CLI refuses usage errors with exit 2 and server refusals with exit 1', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'postern-cfg-'))
    expect((await p.cli(['services', 'add-iam-policy-binding', 'hello', '--role=roles/run.invoker'])).code).toBe(2)
    expect((await p.cli(['services', 'frobnicate'])).code).toBe(2)
    const unknownRole = await p.cli(['services', 'add-iam-policy-binding', 'hello', '--member=user:x@example.com', '--role=roles/run.nope'])
    expect(unknownRole.code).toBe(1)
    expect(unknownRole.stderr).toContain("Role 'roles/run.nope' is not supported")
    const signedOut = await p.cli(['services', 'list', '--project=my-project'], { configDir: empty })
    expect(signedOut.code).toBe(1)
    expect(signedOut.stderr).toContain('postern auth login')
  })

  it('refuses roles that mean nothing on the resource, naming those that apply', async () => {
    const onService = await p.cli(['services', 'add-iam-policy-binding', 'hello', '--member=user:ann@example.com', '--role=roles/owner'])
    expect(onService.code).toBe(1)
    expect(onService.stderr).toContain('INVALID_ARGUMENT')
    expect(onService.stderr).toContain('roles/owner cannot be granted on a service')
    expect(onService.stderr).toContain('roles/run.invoker, roles/run.viewer, roles/run.developer, roles/run.admin')
    const direct = await p.api<{ error: { status: string; message: string } }>('POST', '/v2/projects/my-project/services/hello:setIamPolicy', {
      policy: { bindings: [{ role: 'roles/iam.serviceAccountTokenCreator', members: ['user:ann@example.com'] }, { role: 'roles/run.invoker', members: ['user:ann@example.com'] }] },
    }, owner)
    expect(direct.status).toBe(400)
    expect(direct.body.error.message).toContain('roles/iam.serviceAccountTokenCreator cannot be granted on a service')

    const sa = await p.api<{ email: string }>('POST', '/v1/projects/my-project/serviceAccounts', { accountId: 'roles-bot' }, owner)
    const onAccount = await p.cli(['iam', 'service-accounts', 'add-iam-policy-binding', sa.body.email, '--member=user:ann@example.com', '--role=roles/run.invoker'])
    expect(onAccount.code).toBe(1)
    expect(onAccount.stderr).toContain('roles/run.invoker cannot be granted on a service account')
    expect(onAccount.stderr).toContain('roles/iam.serviceAccountTokenCreator, roles/iam.serviceAccountAdmin')
    expect((await p.cli(['iam', 'service-accounts', 'add-iam-policy-binding', sa.body.email, '--member=user:ann@example.com', '--role=roles/iam.serviceAccountTokenCreator'])).code).toBe(0)
    // On the project every role applies: the basic roles, and those of the resources below it.
    for (const role of ['roles/owner', 'roles/run.invoker', 'roles/iam.serviceAccountTokenCreator']) {
      expect((await p.cli(['projects', 'add-iam-policy-binding', 'my-project', '--member=user:ann@example.com', `--role=${role}`])).code, role).toBe(0)
    }
    const roles = await p.api<{ roles: { name: string; grantableOn: string[] }[] }>('GET', '/v1/roles', undefined, owner)
    expect(roles.body.roles.find((r) => r.name === 'roles/owner')?.grantableOn).toEqual(['postern.project/Project', 'postern.organization/Organization'])
  })
})
