import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from '../support/cli.js'
import { startPostern, type PosternProcess } from '../support/server.js'
import { createUser, signInUser } from '../support/sign-in.js'

/**
 * Policy tests with real processes (DESIGN §9): tests set on a service and on a project are
 * checked before every policy write — CLI, API, group membership changes, access request
 * approvals — and a write that breaks one is refused with FAILED_PRECONDITION naming it, nothing
 * saved; `--dry-run` shows who gains and loses what; `test-access` runs them now, evaluating
 * conditions at the current time (here, a test clock moved forward).
 */
interface Policy {
  bindings?: { role: string; members: string[] }[]
  etag?: string
}

const PAYMENTS = 'projects/my-project/services/payments'
let p: PosternProcess
let dir: string
let clockFile: string

const cli = (args: string[]) => p.cli(args)
const file = (name: string, text: string) => {
  const path = join(dir, name)
  writeFileSync(path, text)
  return path
}
const policy = async (resource = `/v2/${PAYMENTS}`) => (await p.api<Policy>('POST', `${resource}:getIamPolicy`, {})).body
const members = async (group: string) => (JSON.parse((await cli(['groups', 'describe', group, '--format=json'])).stdout) as { members: string[] }).members

const TESTS = `# Who must and must not reach payments
- {member: user:bob@example.com, permission: run.routes.invoke, expect: deny}
- {member: group:oncall@example.com, expect: allow}
`

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'postern-access-tests-'))
  clockFile = file('skew', '0')
  p = await startPostern({ env: { NODE_ENV: 'test', POSTERN_TEST_ONLY_CLOCK_FILE: clockFile } })
  await createUser(p, 'bob@example.com', 'correct horse battery staple')
  for (const args of [
    ['services', 'create', 'payments', '--upstream=http://127.0.0.1:9'],
    ['services', 'create', 'search', '--upstream=http://127.0.0.1:9'],
    ['groups', 'create', 'oncall@example.com'],
    ['groups', 'create', 'everyone@example.com'],
    // The people the tests below grant roles to have accounts (grants name accounts that exist).
    ...['carol', 'dave', 'erin', 'frank', 'gina', 'mallory', 'temp'].map((name) => ['users', 'create', `${name}@example.com`]),
    ['groups', 'add-member', 'oncall@example.com', '--member=user:carol@example.com'],
    ['services', 'add-iam-policy-binding', 'payments', '--member=group:oncall@example.com', '--role=roles/run.invoker'],
    ['services', 'add-iam-policy-binding', 'search', '--member=group:everyone@example.com', '--role=roles/run.invoker'],
  ]) {
    const r = await cli(args)
    expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0)
  }
}, 120_000)

afterAll(() => p?.stop())

describe('policy tests', () => {
  it('set-access-tests accepts tests that hold now; test-access runs them and says when conditions were evaluated', async () => {
    const set = await cli(['services', 'set-access-tests', 'payments', file('tests.yaml', TESTS)])
    expect(set.code, set.stderr).toBe(0)
    expect(set.stderr).toContain('Set 2 access tests on service [payments]; all hold now (conditions evaluated at')
    const run = await cli(['services', 'test-access', 'payments'])
    expect(run.code, run.stderr).toBe(0)
    expect(run.stdout).toMatch(/^Access tests of projects\/my-project\/services\/payments \(conditions evaluated at \d{4}-.*Z\):$/m)
    expect(run.stdout).toContain('PASS  {member: user:bob@example.com, permission: run.routes.invoke, expect: deny}')
    expect(run.stdout).toContain('PASS  {member: group:oncall@example.com, permission: run.routes.invoke, expect: allow}')
  })

  it('refuses a CLI write, a set-iam-policy file and a raw API write that break a test, naming it; nothing is saved', async () => {
    const before = await policy()
    const add = await cli(['services', 'add-iam-policy-binding', 'payments', '--member=user:bob@example.com', '--role=roles/run.invoker'])
    expect(add.code).toBe(1)
    expect(add.stderr).toContain(
      `(FAILED_PRECONDITION) This change would break access test 1 of ${PAYMENTS}, {member: user:bob@example.com, permission: run.routes.invoke, expect: deny}: user:bob@example.com would be allowed run.routes.invoke on ${PAYMENTS} (granted by roles/run.invoker on ${PAYMENTS} to user:bob@example.com). Nothing was saved.`,
    )
    const remove = await cli(['services', 'remove-iam-policy-binding', 'payments', '--member=group:oncall@example.com', '--role=roles/run.invoker'])
    expect(remove.stderr).toContain('would break access test 2 of projects/my-project/services/payments, {member: group:oncall@example.com, permission: run.routes.invoke, expect: allow}: group:oncall@example.com would be denied run.routes.invoke')
    const replaced = await cli(['services', 'set-iam-policy', 'payments', file('policy.yaml', `bindings:\n- role: roles/run.developer\n  members: [domain:example.com, group:oncall@example.com]\netag: ${before.etag}\n`)])
    expect(replaced.stderr).toContain('would break access test 1')
    expect(replaced.stderr).toContain('to domain:example.com')
    const raw = await p.api<{ error: { code: number; status: string; message: string } }>('POST', `/v2/${PAYMENTS}:setIamPolicy`, {
      policy: { bindings: [{ role: 'roles/run.invoker', members: ['allUsers'] }], etag: before.etag },
    })
    expect(raw.status).toBe(400)
    expect(raw.body.error).toMatchObject({ code: 400, status: 'FAILED_PRECONDITION' })
    expect(raw.body.error.message).toContain('to allUsers')
    // Inherited grants count: the project's policy and the organization's.
    const project = await cli(['projects', 'add-iam-policy-binding', 'my-project', '--member=user:bob@example.com', '--role=roles/editor'])
    expect(project.stderr).toContain('(granted by roles/editor on projects/my-project to user:bob@example.com)')
    const org = await p.api<{ error: { message: string } }>('POST', '/v1/organizations/local:getIamPolicy', {})
    const orgPolicy = org.body as unknown as Policy
    const orgWrite = await p.api<{ error: { message: string } }>('POST', '/v1/organizations/local:setIamPolicy', {
      policy: { bindings: [...(orgPolicy.bindings ?? []), { role: 'roles/run.invoker', members: ['allAuthenticatedUsers'] }], etag: orgPolicy.etag },
    })
    expect(orgWrite.status).toBe(400)
    expect(orgWrite.body.error.message).toContain('granted by roles/run.invoker on organizations/local to allAuthenticatedUsers')
    expect((await policy()).etag).toBe(before.etag)
    expect((await policy('/v1/projects/my-project')).bindings ?? []).toEqual([])
    // A write that breaks nothing still goes through.
    const fine = await cli(['services', 'add-iam-policy-binding', 'payments', '--member=user:dave@example.com', '--role=roles/run.viewer'])
    expect(fine.code, fine.stderr).toBe(0)
  })

  it('refuses group changes that would flip a test: adding bob to oncall, removing oncall’s last way in, deleting the group', async () => {
    const add = await cli(['groups', 'add-member', 'oncall@example.com', '--member=user:bob@example.com'])
    expect(add.code).toBe(1)
    expect(add.stderr).toContain('(FAILED_PRECONDITION) This change to group membership would break access test 1 of projects/my-project/services/payments')
    expect(add.stderr).toContain('(granted by roles/run.invoker on projects/my-project/services/payments to group:oncall@example.com)')
    expect(await members('oncall@example.com')).toEqual(['user:carol@example.com'])
    // Nested: bob joins a group that then joins oncall.
    expect((await cli(['groups', 'create', 'nested@example.com'])).code).toBe(0)
    expect((await cli(['groups', 'add-member', 'nested@example.com', '--member=user:bob@example.com'])).code).toBe(0)
    const nest = await cli(['groups', 'add-member', 'oncall@example.com', '--member=group:nested@example.com'])
    expect(nest.stderr).toContain('would break access test 1')
    expect(await members('oncall@example.com')).toEqual(['user:carol@example.com'])
    // oncall's own access comes through everyone@ on search only, so the payments test is about oncall's binding:
    const deleted = await cli(['groups', 'delete', 'oncall@example.com', '--quiet'])
    expect(deleted.stderr).toContain('would break access test 2')
    expect(await members('oncall@example.com')).toEqual(['user:carol@example.com'])
    expect((await policy()).bindings?.find((b) => b.role === 'roles/run.invoker')?.members).toContain('group:oncall@example.com')
    // Changes that flip nothing are fine.
    expect((await cli(['groups', 'add-member', 'oncall@example.com', '--member=user:erin@example.com'])).code).toBe(0)
    expect((await cli(['groups', 'remove-member', 'oncall@example.com', '--member=user:erin@example.com'])).code).toBe(0)
  })

  it('--dry-run shows who gains and loses which permission and saves nothing; a refused dry run says so and exits 1', async () => {
    const before = await policy()
    const gain = await cli(['services', 'add-iam-policy-binding', 'payments', '--member=user:frank@example.com', '--role=roles/run.developer', '--dry-run'])
    expect(gain.code, gain.stderr).toBe(0)
    expect(gain.stdout).toContain(`Dry run, nothing was saved. Effect on ${PAYMENTS} (conditions evaluated at`)
    expect(gain.stdout).toContain('  user:frank@example.com gains run.routes.invoke, run.services.create, run.services.delete, run.services.get, run.services.getIamPolicy, run.services.list, run.services.update')
    const lose = await cli(['services', 'remove-iam-policy-binding', 'payments', '--member=user:dave@example.com', '--role=roles/run.viewer', '--dry-run'])
    expect(lose.stdout).toContain('  user:dave@example.com loses run.services.get, run.services.getIamPolicy, run.services.list')
    const json = await cli(['services', 'add-iam-policy-binding', 'payments', '--member=group:oncall@example.com', '--role=roles/run.invoker', '--dry-run', '--format=json'])
    expect(JSON.parse(json.stdout)).toMatchObject({ resource: PAYMENTS, changes: [] })
    const refused = await cli(['services', 'add-iam-policy-binding', 'payments', '--member=user:bob@example.com', '--role=roles/run.invoker', '--dry-run'])
    expect(refused.code).toBe(1)
    expect(refused.stdout).toContain('  user:bob@example.com gains run.routes.invoke')
    expect(refused.stderr).toContain('This change would be refused: (FAILED_PRECONDITION) This change would break access test 1')
    const whole = await cli(['services', 'set-iam-policy', 'payments', file('none.yaml', `bindings: []\netag: ${before.etag}\n`), '--dry-run'])
    expect(whole.stdout).toContain('  group:oncall@example.com loses run.routes.invoke')
    expect(whole.stderr).toContain('would break access test 2')
    const stale = await cli(['projects', 'set-iam-policy', 'my-project', file('stale.yaml', 'bindings: []\netag: BwStale\n'), '--dry-run'])
    expect(stale.stderr).toContain('This change would be refused: (ABORTED)')
    expect((await policy()).etag).toBe(before.etag)
    // Someone who may read a policy but not set it is told so by the dry run, as by the write.
    expect((await cli(['services', 'add-iam-policy-binding', 'search', '--member=user:bob@example.com', '--role=roles/run.viewer'])).code).toBe(0)
    const bob = (await signInUser(p, 'bob@example.com', 'correct horse battery staple')).configDir
    const grant = ['services', 'add-iam-policy-binding', 'search', '--member=user:gina@example.com', '--role=roles/run.invoker']
    const denied = await runCli(grant, { configDir: bob })
    expect(denied).toMatchObject({ code: 1, stderr: expect.stringContaining("(PERMISSION_DENIED) Permission 'run.services.setIamPolicy' denied") })
    const dryDenied = await runCli([...grant, '--dry-run'], { configDir: bob })
    expect(dryDenied.code, dryDenied.stderr).toBe(1)
    expect(dryDenied.stderr).toBe(`ERROR: This change would be refused: ${denied.stderr.replace(/^ERROR: /, '')}`)
  })

  it('a project’s tests hold for the project and every service in it', async () => {
    const set = await cli(['projects', 'set-access-tests', 'my-project', file('project.yaml', 'tests:\n- {member: user:mallory@example.com, expect: deny}\n')])
    expect(set.code, set.stderr).toBe(0)
    const onSearch = await cli(['services', 'add-iam-policy-binding', 'search', '--member=user:mallory@example.com', '--role=roles/run.invoker'])
    expect(onSearch.stderr).toContain('would break access test 1 of projects/my-project, {member: user:mallory@example.com, permission: run.routes.invoke, expect: deny}: user:mallory@example.com would be allowed run.routes.invoke on projects/my-project/services/search')
    const viaGroup = await cli(['groups', 'add-member', 'everyone@example.com', '--member=user:mallory@example.com'])
    expect(viaGroup.stderr).toContain('would break access test 1 of projects/my-project')
    const run = await cli(['projects', 'test-access', 'my-project'])
    expect(run.code, run.stderr).toBe(0)
    expect(run.stdout).toContain('PASS  {member: user:mallory@example.com, permission: run.routes.invoke, expect: deny}')
  })

  it('an access request that a test forbids is refused when it is filed', async () => {
    const bob = (await signInUser(p, 'bob@example.com', 'correct horse battery staple')).configDir
    const r = await runCli(['services', 'request-access', 'payments', '--for=1h', '--reason=please'], { configDir: bob })
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('(FAILED_PRECONDITION) Granting this request would break access test 1 of projects/my-project/services/payments')
    expect(r.stderr).toContain("under the condition 'Access request")
    const listed = await runCli(['access-requests', 'list', '--all', '--format=json'], { configDir: bob })
    expect(JSON.parse(listed.stdout)).toEqual([])
  })

  it('bad test files get a clear error each, and nothing is saved', async () => {
    const cases: [string, string][] = [
      ['- {member: [unclosed\n', 'is not valid YAML'],
      ['- {member: user:bob@example.com, permission: run.routes.invok, expect: deny}\n', "(INVALID_ARGUMENT) test 1: Permission 'run.routes.invok' is not known."],
      ['- {member: user:bob@example.com, expect: deny}\n- {member: bob, expect: deny}\n', "(INVALID_ARGUMENT) test 2: Invalid member 'bob'"],
      ['- {member: user:bob@example.com, expect: maybe}\n', 'test 1: expect must be allow or deny'],
      ['- {member: user:bob@example.com, expect: deny, note: x}\n', "test 1: unknown field 'note'"],
      ['member: user:bob@example.com\n', 'must hold a list of tests'],
      ['', 'is empty; to remove every access test, write []'],
      ['- {member: user:carol@example.com, expect: deny}\n', '(FAILED_PRECONDITION) These tests do not hold now, so they were not saved: access test 1 of projects/my-project/services/payments'],
    ]
    for (const [i, [text, message]] of cases.entries()) {
      const r = await cli(['services', 'set-access-tests', 'payments', file(`bad-${i}.yaml`, text)])
      expect(r.code, text).toBe(1)
      expect(r.stderr, text).toContain(message)
    }
    const run = await cli(['services', 'test-access', 'payments', '--format=json'])
    expect((JSON.parse(run.stdout) as { results: unknown[] }).results).toHaveLength(2)
  })

  it('conditional grants are evaluated at the current time: an allow test that held fails once its grant ends', async () => {
    const end = new Date(Date.now() + 10 * 60_000).toISOString()
    const grant = await cli(['services', 'add-iam-policy-binding', 'search', '--member=user:temp@example.com', '--role=roles/run.invoker', `--condition=expression=request.time < timestamp('${end}'),title=ten minutes`])
    expect(grant.code, grant.stderr).toBe(0)
    const set = await cli(['services', 'set-access-tests', 'search', file('search.yaml', '- {member: user:temp@example.com, expect: allow}\n')])
    expect(set.code, set.stderr).toBe(0)
    expect((await cli(['services', 'test-access', 'search'])).code).toBe(0)
    writeFileSync(clockFile, String(11 * 60))
    await new Promise((r) => setTimeout(r, 300))
    const later = await cli(['services', 'test-access', 'search'])
    expect(later.code).toBe(1)
    expect(later.stdout).toContain('FAIL  {member: user:temp@example.com, permission: run.routes.invoke, expect: allow}')
    expect(later.stdout).toMatch(/user:temp@example\.com is denied run\.routes\.invoke on projects\/my-project\/services\/search \(a binding names it, but its condition is false at \d{4}-/)
    expect(later.stderr).toContain('1 of 1 access tests of projects/my-project/services/search failed')
    // A write that leaves the failing test failing is not blocked by it (--condition=None: the
    // policy has a conditional binding now, and an edit must say which binding it means).
    expect((await cli(['services', 'add-iam-policy-binding', 'search', '--member=user:gina@example.com', '--role=roles/run.viewer', '--condition=None'])).code).toBe(0)
  })
})
