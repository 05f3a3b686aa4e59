import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startPostern, type PosternProcess } from '../support/server.js'

/**
 * The organization keeps an owner: the only one cannot delete or disable their own account, nor
 * write an organization policy without one (as Google Cloud refuses to remove a project's last
 * owner). Without it nobody could administer Postern, short of `serve --reset-owner-password` on
 * the database's machine.
 */
describe('the last owner', () => {
  let p: PosternProcess
  beforeAll(async () => {
    p = await startPostern()
  })
  afterAll(() => p?.stop())

  const ORG = '/v1/organizations/local'

  it('cannot delete or disable their own account, nor write the organization a policy without an owner', async () => {
    for (const args of [['users', 'delete', 'owner@example.com', '--quiet'], ['users', 'disable', 'owner@example.com']]) {
      const r = await p.cli(args)
      expect(r, args.join(' ')).toMatchObject({ code: 1, stderr: expect.stringContaining(`(FAILED_PRECONDITION) owner@example.com is the organization's only owner and cannot be ${args[1] === 'delete' ? 'deleted' : 'disabled'}`) })
    }
    const { body: policy } = await p.api<{ bindings: { role: string; members: string[] }[]; etag: string }>('POST', `${ORG}:getIamPolicy`)
    const ownerless = await p.api<{ error: { status: string; message: string } }>('POST', `${ORG}:setIamPolicy`, { policy: { bindings: [{ role: 'roles/run.admin', members: ['user:owner@example.com'] }], etag: policy.etag } })
    expect(ownerless.status).toBe(400)
    expect(ownerless.body.error).toMatchObject({ status: 'FAILED_PRECONDITION', message: expect.stringContaining('The organization must keep an owner') })
    // Still the owner, still signed in.
    expect((await p.cli(['users', 'list'])).code).toBe(0)
  })

  it('can go once another account holds roles/owner', async () => {
    expect((await p.cli(['users', 'create', 'heir@example.com'])).code).toBe(0)
    const { body: policy } = await p.api<{ bindings: { role: string; members: string[] }[]; etag: string }>('POST', `${ORG}:getIamPolicy`)
    const bindings = policy.bindings.map((b) => (b.role === 'roles/owner' ? { ...b, members: [...b.members, 'user:heir@example.com'] } : b))
    expect((await p.api('POST', `${ORG}:setIamPolicy`, { policy: { bindings, etag: policy.etag } })).status).toBe(200)
    const disabled = await p.cli(['users', 'disable', 'owner@example.com'])
    expect(disabled.code, disabled.stderr).toBe(0)
  })
})
