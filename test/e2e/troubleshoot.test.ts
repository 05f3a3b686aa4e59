import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startPostern, type PosternProcess } from '../support/server.js'
import { createUser, signInUser } from '../support/sign-in.js'

/** `postern services why` and POST /v1/troubleshoot: which binding grants, or why none does. */
describe('why a member may or may not invoke', () => {
  let p: PosternProcess
  const why = async (service: string, member: string, extra: string[] = []) => p.cli(['services', 'why', service, `--member=${member}`, ...extra])
  beforeAll(async () => {
    p = await startPostern()
    for (const args of [
      ['users', 'create', 'bob@example.com'],
      ['users', 'create', 'carol@example.com'],
      ['users', 'create', 'dave@example.com'],
      ['services', 'create', 'api', '--upstream=http://127.0.0.1:9000'],
      ['services', 'create', 'strict', '--upstream=http://127.0.0.1:9000', '--strict-audience'],
      ['groups', 'create', 'eng@example.com'],
      ['groups', 'add-member', 'eng@example.com', '--member=user:bob@example.com'],
      ['services', 'add-iam-policy-binding', 'api', '--member=group:eng@example.com', '--role=roles/run.invoker'],
      ['services', 'add-iam-policy-binding', 'api', '--member=user:carol@example.com', '--role=roles/run.invoker', "--condition=expression=request.time < timestamp('2020-01-01T00:00:00Z'),title=expired long ago"],
      ['projects', 'add-iam-policy-binding', 'my-project', '--member=user:dave@example.com', '--role=roles/run.developer'],
    ]) {
      const r = await p.cli(args)
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0)
    }
  })
  afterAll(() => p?.stop())

  it('names the binding that grants, through a group', async () => {
    const r = await why('api', 'user:bob@example.com')
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('GRANTED: user:bob@example.com holds run.routes.invoke on projects/my-project/services/api.')
    expect(r.stdout).toContain('granted by roles/run.invoker on projects/my-project/services/api to group:eng@example.com')
  })

  it('names a grant inherited from the project', async () => {
    const r = await why('api', 'user:dave@example.com', ['--format=json'])
    const body = JSON.parse(r.stdout)
    expect(body.access).toBe('GRANTED')
    expect(body.bindings.find((b: { grants: boolean }) => b.grants)).toMatchObject({ resource: 'projects/my-project', role: 'roles/run.developer' })
  })

  it('says when no binding names the member, and what an admin would run', async () => {
    const r = await why('api', 'user:erin@example.com')
    expect(r.stdout).toContain('NOT GRANTED')
    expect(r.stdout).toContain('No binding on projects/my-project/services/api or its ancestors grants run.routes.invoke')
    expect(r.stdout).toContain("postern services add-iam-policy-binding api --member='user:erin@example.com' --role='roles/run.invoker'")
  })

  it('says when a binding names the member but its condition is false', async () => {
    const r = await why('api', 'user:carol@example.com', ['--format=json'])
    const body = JSON.parse(r.stdout)
    expect(body).toMatchObject({ access: 'NOT_GRANTED', reason: 'condition-false' })
    expect(body.bindings.find((b: { matchedMembers: string[] }) => b.matchedMembers.includes('user:carol@example.com')).condition).toMatchObject({ title: 'expired long ago', result: false })
  })

  it('warns about the audience rule of a strict service', async () => {
    expect((await p.cli(['services', 'add-iam-policy-binding', 'strict', '--member=user:bob@example.com', '--role=roles/run.invoker'])).code).toBe(0)
    const r = await why('strict', 'user:bob@example.com')
    expect(r.stdout).toContain('GRANTED')
    expect(r.stdout).toContain('strictAudience')
    expect(r.stdout).toContain('--audiences')
  })

  it('refuses a caller without getIamPolicy on the resource', async () => {
    const res = await fetch(`${p.controlUrl}/v1/troubleshoot`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ principal: 'user:a@example.com', resource: 'projects/my-project/services/api' }) })
    expect(res.status).toBe(401)
  })

  describe('asked by someone holding only run.viewer on one service', () => {
    let viewer: string
    interface Answer {
      access: string
      reason: string
      bindings: { resource: string; role: string; matchedMembers: string[] }[]
      notes: string[]
      hidden: string[]
    }
    const ask = async (principal: string, resource = 'projects/my-project/services/api') => p.api<Answer>('POST', '/v1/troubleshoot', { principal, resource }, viewer)
    beforeAll(async () => {
      await createUser(p, 'one-service-viewer@example.com', 'viewer-password-123')
      for (const args of [
        ['users', 'create', 'frank@example.com'],
        // --condition=None: api's policy has carol's conditional binding, so an edit says which binding it means.
        ['services', 'add-iam-policy-binding', 'api', '--member=user:one-service-viewer@example.com', '--role=roles/run.viewer', '--condition=None'],
        ['services', 'add-iam-policy-binding', 'api', '--member=user:frank@example.com', '--role=roles/run.invoker', '--condition=None'],
      ]) expect((await p.cli(args)).code).toBe(0)
      viewer = (await signInUser(p, 'one-service-viewer@example.com', 'viewer-password-123')).accessToken
    })

    it('sees no binding of the project or the organization, and no verdict they decide', async () => {
      const r = await ask('user:dave@example.com')
      expect(r.status).toBe(200)
      expect(r.body.access).toBe('UNKNOWN')
      expect(r.body.bindings.map((b) => b.resource)).not.toContain('projects/my-project')
      expect(r.body.bindings.every((b) => b.resource === 'projects/my-project/services/api')).toBe(true)
      expect(JSON.stringify(r.body)).not.toContain('run.developer')
      expect(r.body.hidden).toEqual(expect.arrayContaining([
        expect.stringContaining('The IAM policy of projects/my-project is hidden'),
        expect.stringContaining('The IAM policy of organizations/local is hidden'),
      ]))
    })

    it('is not told whether an account exists, nor who is in a group', async () => {
      const missing = await ask('user:nobody-here@example.com')
      expect(JSON.stringify(missing.body.notes)).not.toContain('does not exist')
      expect(missing.body.hidden).toEqual(expect.arrayContaining([expect.stringContaining('Whether user:nobody-here@example.com exists and is enabled is hidden')]))
      // bob is granted through group eng on the service itself; the viewer sees the binding, not bob's membership.
      const bob = await ask('user:bob@example.com')
      expect(bob.body.access).toBe('UNKNOWN')
      expect(bob.body.bindings.find((b) => b.role === 'roles/run.invoker')?.matchedMembers).toEqual([])
      expect(bob.body.hidden).toEqual(expect.arrayContaining([expect.stringContaining('Group memberships are hidden')]))
    })

    it('is told a grant it can read, and refused on a service it cannot read', async () => {
      const frank = await ask('user:frank@example.com')
      expect(frank.body.access).toBe('GRANTED')
      expect(frank.body.bindings.find((b) => b.matchedMembers.includes('user:frank@example.com'))).toMatchObject({ resource: 'projects/my-project/services/api', role: 'roles/run.invoker' })
      expect((await ask('user:frank@example.com', 'projects/my-project/services/strict')).status).toBe(403)
      expect((await ask('user:frank@example.com', 'projects/my-project')).status).toBe(403)
    })

    it('the owner still sees everything', async () => {
      const r = await p.api<Answer>('POST', '/v1/troubleshoot', { principal: 'user:dave@example.com', resource: 'projects/my-project/services/api' })
      expect(r.body.access).toBe('GRANTED')
      expect(r.body.hidden).toEqual([])
      expect(r.body.bindings.find((b) => b.matchedMembers.length)).toMatchObject({ resource: 'projects/my-project', role: 'roles/run.developer' })
    })
  })
})
