import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startPostern, type PosternProcess } from '../support/server.js'
import { createUser, signInUser } from '../support/sign-in.js'

/**
 * Turning a service's invoker check off makes it public, so it needs run.services.setIamPolicy
 * as an allUsers binding does: run.developer and editor, who may create and update services but
 * not change who may call them, are refused; run.admin and owner are not.
 */
describe('invokerIamDisabled needs run.services.setIamPolicy', () => {
  let p: PosternProcess
  const people: Record<string, { configDir: string; idToken: string }> = {}
  const roles = { developer: 'roles/run.developer', editor: 'roles/editor', admin: 'roles/run.admin' } as const

  beforeAll(async () => {
    p = await startPostern()
    for (const [who, role] of Object.entries(roles)) {
      const email = `${who}@example.com`
      await createUser(p, email, `${who}-password-123`)
      expect((await p.cli(['projects', 'add-iam-policy-binding', 'my-project', `--member=user:${email}`, `--role=${role}`])).code).toBe(0)
      people[who] = await signInUser(p, email, `${who}-password-123`)
    }
    people.owner = { configDir: p.configDir, idToken: await p.ownerToken() }
  })
  afterAll(() => p?.stop())

  const cli = (who: string, args: string[]) => p.cli(args, { configDir: people[who]!.configDir })
  const exists = async (service: string) => (await p.cli(['services', 'describe', service])).code === 0

  it.each(['developer', 'editor'])('refuses %s creating a service with --no-invoker-iam-check, naming the permission', async (who) => {
    const r = await cli(who, ['services', 'create', `public-${who}`, '--upstream=http://127.0.0.1:9000', '--no-invoker-iam-check'])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('PERMISSION_DENIED')
    expect(r.stderr).toContain("'run.services.setIamPolicy'")
    expect(r.stderr).toContain('invokerIamDisabled')
    expect(await exists(`public-${who}`)).toBe(false)
    // The same person may create a private service.
    expect((await cli(who, ['services', 'create', `private-${who}`, '--upstream=http://127.0.0.1:9000'])).code).toBe(0)
  })

  it.each(['developer', 'editor'])('refuses %s turning the check off on an existing service (CLI and API)', async (who) => {
    const r = await cli(who, ['services', 'update', `private-${who}`, '--no-invoker-iam-check'])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain("'run.services.setIamPolicy'")
    const res = await p.api<{ error: { status: string; message: string } }>('PATCH', `/v2/projects/my-project/services/private-${who}`, { invokerIamDisabled: true }, people[who]!.idToken)
    expect(res.status).toBe(403)
    expect(res.body.error.message).toContain("'run.services.setIamPolicy'")
    const after = JSON.parse((await p.cli(['services', 'describe', `private-${who}`, '--format=json'])).stdout) as { invokerIamDisabled: boolean }
    expect(after.invokerIamDisabled).toBe(false)
  })

  it.each(['admin', 'owner'])('lets %s create a public service and turn the check off', async (who) => {
    expect((await cli(who, ['services', 'create', `public-${who}`, '--upstream=http://127.0.0.1:9000', '--no-invoker-iam-check'])).code).toBe(0)
    expect((await cli(who, ['services', 'create', `later-${who}`, '--upstream=http://127.0.0.1:9000'])).code).toBe(0)
    const res = await p.api<{ invokerIamDisabled: boolean }>('PATCH', `/v2/projects/my-project/services/later-${who}`, { invokerIamDisabled: true }, people[who]!.idToken)
    expect(res.status).toBe(200)
    expect(res.body.invokerIamDisabled).toBe(true)
  })

  it('a developer may still edit a public service and turn its check back on', async () => {
    const described = JSON.parse((await p.cli(['services', 'describe', 'public-admin', '--format=json'])).stdout) as Record<string, unknown>
    // Sending the whole resource back, invokerIamDisabled unchanged, is no change of who may call.
    const res = await p.api('PATCH', '/v2/projects/my-project/services/public-admin', { ...described, description: 'edited' }, people.developer!.idToken)
    expect(res.status).toBe(200)
    expect((await cli('developer', ['services', 'update', 'public-admin', '--invoker-iam-check'])).code).toBe(0)
  })
})
