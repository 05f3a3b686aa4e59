import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startPostern, type PosternProcess } from '../support/server.js'

/** `postern services why` and POST /v1/troubleshoot (issue 4): which binding grants, or why none does. */
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
})
