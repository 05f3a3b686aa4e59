import { cpSync, mkdtempSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startPostern, type PosternProcess } from '../support/server.js'

/**
 * Typos fail loudly: a grant to an account that does not exist, a project or a service that is
 * not there — each is refused naming what was not found, never accepted or answered with an
 * empty success. What cannot be checked (domains, federated subjects) is accepted with a note.
 */
describe('typos in members, projects and services', () => {
  let p: PosternProcess
  const ok = async (args: string[]) => {
    const r = await p.cli(args)
    expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0)
    return r
  }
  const policyOf = async (service: string) => JSON.parse((await ok(['services', 'get-iam-policy', service, '--format=json'])).stdout) as { bindings?: { role: string; members: string[] }[] }

  beforeAll(async () => {
    p = await startPostern()
    await ok(['services', 'create', 'hello', '--upstream=http://127.0.0.1:9000'])
    await ok(['users', 'create', 'ann@example.com'])
  })
  afterAll(() => p?.stop())

  it('refuses to grant a user, group, service account or workforce pool that does not exist, naming it', async () => {
    for (const [member, words] of [
      ['user:nobody@example.com', 'User nobody@example.com does not exist'],
      ['group:nosuch@example.com', 'Group nosuch@example.com does not exist'],
      ['serviceAccount:ci@my-project.iam.postern.internal', 'Service account ci@my-project.iam.postern.internal does not exist'],
      // A federated subject is its identity provider's to know, but its workforce pool is Postern's.
      ['principal://iam.postern/workforcePools/nopool/subject/x', 'Workforce pool nopool does not exist'],
      ['principalSet://iam.postern/workforcePools/nopool/*', 'Workforce pool nopool does not exist'],
    ] as const) {
      // $ postern services add-iam-policy-binding hello --member=user:nobody@example.com --role=roles/run.invoker
      const r = await p.cli(['services', 'add-iam-policy-binding', 'hello', `--member=${member}`, '--role=roles/run.invoker'])
      expect(r.code, member).toBe(1)
      expect(r.stderr).toContain(`(INVALID_ARGUMENT) ${words}`)
    }
    expect((await policyOf('hello')).bindings ?? []).toEqual([])
  })

  it('--dry-run refuses what the write refuses, in its words: a grant to an account that does not exist, on every resource kind', async () => {
    await ok(['iam', 'service-accounts', 'create', 'dry-robot'])
    for (const kind of [
      ['services', 'hello'],
      ['projects', 'my-project'],
      ['organizations', 'local'],
      ['iam', 'service-accounts', 'dry-robot@my-project.iam.postern.internal'],
    ]) {
      // $ postern services add-iam-policy-binding hello --member=user:eve@example.com --role=roles/run.viewer --dry-run
      const role = kind[0] === 'iam' ? 'roles/iam.serviceAccountTokenCreator' : 'roles/run.viewer'
      const grant = [...kind.slice(0, -1), 'add-iam-policy-binding', kind.at(-1)!, '--member=user:eve@example.com', `--role=${role}`]
      const write = await p.cli(grant)
      const dry = await p.cli([...grant, '--dry-run'])
      expect(write, kind.join(' ')).toMatchObject({ code: 1, stderr: expect.stringContaining('(INVALID_ARGUMENT) User eve@example.com does not exist (member \'user:eve@example.com\').') })
      expect(dry.code, `${kind.join(' ')}: ${dry.stdout}${dry.stderr}`).toBe(1)
      expect(dry.stderr).toBe(`ERROR: This change would be refused: ${write.stderr.replace(/^ERROR: /, '')}`)
    }
    // The organization's last owner: the dry run says what the write would.
    const lastOwner = ['organizations', 'remove-iam-policy-binding', 'local', '--member=user:owner@example.com', '--role=roles/owner']
    const dryOwner = await p.cli([...lastOwner, '--dry-run'])
    expect(dryOwner).toMatchObject({ code: 1, stderr: expect.stringContaining('This change would be refused: (FAILED_PRECONDITION) The organization must keep an owner') })
    // Nothing was written, and an account that exists still dry-runs cleanly.
    expect((await policyOf('hello')).bindings ?? []).toEqual([])
    const fine = await ok(['services', 'add-iam-policy-binding', 'hello', '--member=user:ann@example.com', '--role=roles/run.viewer', '--dry-run'])
    expect(fine.stdout).toContain('user:ann@example.com gains run.services.get')
  })

  it('grants an account that exists, even a disabled one', async () => {
    await ok(['users', 'create', 'off@example.com'])
    await ok(['users', 'disable', 'off@example.com'])
    await ok(['services', 'add-iam-policy-binding', 'hello', '--member=user:off@example.com', '--role=roles/run.invoker'])
    await ok(['groups', 'create', 'eng@example.com'])
    await ok(['groups', 'add-member', 'eng@example.com', '--member=user:off@example.com'])
  })

  it('accepts what it cannot check, and says so', async () => {
    const domain = await ok(['services', 'add-iam-policy-binding', 'hello', '--member=domain:example.com', '--role=roles/run.invoker'])
    expect(domain.stderr).toContain('Note: domain:example.com cannot be checked')
    await ok(['iam', 'workforce-pools', 'create', 'acme-staff'])
    const set = await ok(['services', 'add-iam-policy-binding', 'hello', '--member=principalSet://iam.postern/workforcePools/acme-staff/group/eng', '--role=roles/run.invoker'])
    expect(set.stderr).toContain('cannot be checked')
  })

  it('keeps deleted: members working: a policy that names a deleted account can still be edited and written back', async () => {
    await ok(['users', 'create', 'gone@example.com'])
    await ok(['services', 'add-iam-policy-binding', 'hello', '--member=user:gone@example.com', '--role=roles/run.viewer'])
    await ok(['users', 'delete', 'gone@example.com'])
    const before = await policyOf('hello')
    const deleted = before.bindings!.find((b) => b.role === 'roles/run.viewer')!.members[0]!
    expect(deleted).toMatch(/^deleted:user:gone@example\.com\?uid=/)
    await ok(['services', 'add-iam-policy-binding', 'hello', '--member=user:ann@example.com', '--role=roles/run.viewer'])
    const after = await policyOf('hello')
    expect(after.bindings!.find((b) => b.role === 'roles/run.viewer')!.members).toEqual([deleted, 'user:ann@example.com'].sort())
    await ok(['services', 'remove-iam-policy-binding', 'hello', `--member=${deleted}`, '--role=roles/run.viewer'])
  })

  it('refuses a group member that does not exist', async () => {
    // $ postern groups add-member eng@example.com --member=user:nobody@example.com
    const r = await p.cli(['groups', 'add-member', 'eng@example.com', '--member=user:nobody@example.com'])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('User nobody@example.com does not exist')
    const nested = await p.cli(['groups', 'add-member', 'eng@example.com', '--member=group:nosuch@example.com'])
    expect(nested.stderr).toContain('Group nosuch@example.com does not exist')
  })

  it('says NOT_FOUND for a project that is not there', async () => {
    // $ postern services list --project nosuch
    for (const args of [['services', 'list'], ['iam', 'service-accounts', 'list']]) {
      const r = await p.cli([...args, '--project', 'nosuch-project'])
      expect(r.code, args.join(' ')).toBe(1)
      expect(r.stdout).toBe('')
      expect(r.stderr).toContain("(NOT_FOUND) Project 'nosuch-project' not found.")
    }
  })

  it('a member typed without its type prefix is named as such by remove-iam-policy-binding too, not reported as a binding not found', async () => {
    const add = await p.cli(['services', 'add-iam-policy-binding', 'hello', '--member=ann@example.com', '--role=roles/run.invoker'])
    const remove = await p.cli(['services', 'remove-iam-policy-binding', 'hello', '--member=ann@example.com', '--role=roles/run.invoker'])
    for (const r of [add, remove]) expect(r).toMatchObject({ code: 1, stderr: expect.stringContaining("(INVALID_ARGUMENT) Invalid member 'ann@example.com': a member needs a type prefix, e.g. 'user:ann@example.com'.") })
  })

  it('services why suggests creating a missing account before the grant that would otherwise be refused', async () => {
    // (Another domain than example.com, which an earlier test granted whole.)
    const ghost = await p.cli(['services', 'why', 'hello', '--member=user:ghost@elsewhere.org'])
    expect(ghost.stdout).toContain("to grant, create it first: postern users create ghost@elsewhere.org; then: postern services add-iam-policy-binding hello --member='user:ghost@elsewhere.org' --role='roles/run.invoker'")
    const robot = await p.cli(['services', 'why', 'hello', '--member=serviceAccount:robot@my-project.iam.postern.internal'])
    expect(robot.stdout).toContain('to grant, create it first: postern iam service-accounts create robot; then:')
    // An account that exists is only granted.
    await ok(['users', 'create', 'zed@elsewhere.org'])
    expect((await p.cli(['services', 'why', 'hello', '--member=user:zed@elsewhere.org'])).stdout).toContain("  to grant: postern services add-iam-policy-binding hello --member='user:zed@elsewhere.org'")
  })

  it('never sends credentials to another server than the Postern that issued them, and says how to go on', async () => {
    // Whatever the CLI is pointed at next (a typo, an old port now someone else's) records what it is sent.
    const seen: (string | undefined)[] = []
    const other = createServer((req, res) => {
      seen.push(req.headers.authorization)
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"services":[]}')
    })
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve))
    const otherUrl = `http://127.0.0.1:${(other.address() as AddressInfo).port}`
    try {
      const configDir = mkdtempSync(join(tmpdir(), 'postern-moved-'))
      cpSync(p.configDir, configDir, { recursive: true })
      // A token cached a moment ago, still fresh: the one that would go first.
      expect((await p.cli(['services', 'list'], { configDir })).code).toBe(0)
      expect((await p.cli(['config', 'set', 'server', otherUrl], { configDir })).code).toBe(0)
      const r = await p.cli(['services', 'list'], { configDir })
      expect(r.code).toBe(1)
      expect(r.stderr).toContain(`The credentials of owner@example.com are from the Postern at ${p.controlUrl}, and the CLI now talks to ${otherUrl}: sign in there (postern auth login), or go back (postern config set server ${p.controlUrl}). Nothing was sent.`)
      expect(seen).toEqual([])
      // Its own server's commands say nothing of the kind.
      expect((await p.cli(['services', 'list'])).stderr).not.toContain('credentials of')
    } finally {
      other.close()
    }
  })

  it('says NOT_FOUND when asked why about a service that is not there, and suggests nothing', async () => {
    // $ postern services why nosuch --member=user:ann@example.com
    const r = await p.cli(['services', 'why', 'nosuch', '--member=user:ann@example.com'])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain("(NOT_FOUND) Service 'nosuch' not found in project 'my-project'.")
    expect(r.stdout).not.toContain('add-iam-policy-binding')
    // A policy command on it reads as `services describe` on it does.
    const binding = await p.cli(['services', 'add-iam-policy-binding', 'nosuch', '--member=user:ann@example.com', '--role=roles/run.invoker'])
    const described = await p.cli(['services', 'describe', 'nosuch'])
    expect([binding.code, described.code]).toEqual([1, 1])
    expect(binding.stderr).toContain("Service 'nosuch' not found in project 'my-project'.")
    expect(described.stderr).toContain("Service 'nosuch' not found in project 'my-project'.")
  })
})
