import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventually } from '../support/eventually.js'
import { startPostern, type PosternProcess } from '../support/server.js'
import { posternOnPath, sh } from '../support/shell.js'
import { createUser, signInUser } from '../support/sign-in.js'
import { startUpstream } from '../support/upstream.js'

/**
 * The organization's policy from the CLI, as gcloud users type it
 * (`gcloud organizations add-iam-policy-binding ORGANIZATION_ID --member … --role …`): a grant on
 * organizations/local reaches every project's services, and is gone when the binding is removed.
 */
describe('postern organizations …-iam-policy…', () => {
  let p: PosternProcess
  let upstream: Awaited<ReturnType<typeof startUpstream>>
  let ann: { configDir: string }
  let bin: string
  let url: string
  const owner = (line: string) => sh(line, { configDir: p.configDir, binDir: bin })
  const asAnn = (line: string) => sh(line, { configDir: ann.configDir, binDir: bin })
  // Ann's curl with the token `postern auth print-identity-token` gives her, as the README has it.
  let token = ''
  const status = async () => (await asAnn(`curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer ${token}" ${url}/hello`)).stdout

  beforeAll(async () => {
    upstream = await startUpstream()
    p = await startPostern()
    bin = posternOnPath()
    expect((await p.cli(['projects', 'create', 'other-project'])).code).toBe(0)
    // A private service in another project than the owner's default: the organization reaches it too.
    const created = await p.cli(['services', 'create', 'hello', `--upstream=${upstream.url}`, '--project=other-project', '--format=json'])
    expect(created.code, created.stderr).toBe(0)
    url = JSON.parse(created.stdout).uri
    await createUser(p, 'ann@example.com', 'ann-password-123')
    ann = await signInUser(p, 'ann@example.com', 'ann-password-123')
    const printed = await asAnn('postern auth print-identity-token')
    expect(printed.code, printed.stderr).toBe(0)
    token = printed.stdout.trim()
  })
  afterAll(async () => {
    await p?.stop()
    await upstream?.close()
  })

  it('roles/run.invoker on organizations/local lets a user call any private service; removing it shuts her out again', async () => {
    expect(await status()).toBe('403')

    const add = await owner(`postern organizations add-iam-policy-binding local --member='user:ann@example.com' --role='roles/run.invoker'`)
    expect(add.code, add.stderr).toBe(0)
    expect(add.stderr).toBe('Updated IAM policy for organization [local].\n')
    expect(add.stdout).toMatch(/- role: roles\/run\.invoker\n\s+members:\n\s+- user:ann@example\.com\n/)
    expect(add.stdout).toMatch(/- role: roles\/owner\n\s+members:\n\s+- user:owner@example\.com\n/)
    await eventually(1_000, async () => (await status()) === '200', 'status 200 after the grant', 0)
    const answer = await asAnn(`curl -s -H "Authorization: Bearer $(postern auth print-identity-token)" ${url}/through`)
    expect(JSON.parse(answer.stdout)).toMatchObject({ method: 'GET', url: '/through' })

    // The resource name works as gcloud's organizations/ID does, and is named `local` all the same.
    const remove = await owner(`postern organizations remove-iam-policy-binding organizations/local --member='user:ann@example.com' --role='roles/run.invoker'`)
    expect(remove.code, remove.stderr).toBe(0)
    expect(remove.stderr).toBe('Updated IAM policy for organization [local].\n')
    expect(remove.stdout).not.toContain('ann@example.com')
    await eventually(1_000, async () => (await status()) === '403', 'status 403 after the removal', 0)
  })

  it('roles/run.viewer on the organization lets a user list every project\'s services', async () => {
    const listing = () => asAnn('postern services list --project=other-project --format="value(name)"')
    expect((await listing()).stderr).toContain('PERMISSION_DENIED')
    expect((await owner(`postern organizations add-iam-policy-binding local --member=user:ann@example.com --role=roles/run.viewer`)).code).toBe(0)
    expect(await listing()).toMatchObject({ code: 0, stdout: 'projects/other-project/services/hello\n' })
    expect((await owner(`postern organizations remove-iam-policy-binding local --member=user:ann@example.com --role=roles/run.viewer`)).code).toBe(0)
    expect((await listing()).code).toBe(1)
  })

  it('get-iam-policy prints YAML, JSON, and takes --flatten, --filter and --format as the other get-iam-policy commands do', async () => {
    const yaml = await owner('postern organizations get-iam-policy local')
    expect(yaml).toMatchObject({ code: 0, stderr: '' })
    expect(yaml.stdout).toMatch(/^version: 1\nbindings:\n {2}- role: roles\/owner\n {4}members:\n {6}- user:owner@example\.com\netag: \S+\n$/)
    const json = JSON.parse((await owner('postern organizations get-iam-policy organizations/local --format=json')).stdout)
    expect(json).toEqual({ version: 1, bindings: [{ role: 'roles/owner', members: ['user:owner@example.com'] }], etag: /etag: (\S+)/.exec(yaml.stdout)![1] })
    const roles = await owner(`postern organizations get-iam-policy local --flatten='bindings[].members' --filter='bindings.members:user:owner@example.com' --format='value(bindings.role)'`)
    expect(roles).toMatchObject({ code: 0, stdout: 'roles/owner\n' })
  })

  it('concurrent add-iam-policy-binding calls all land (read-modify-write retried on ABORTED); a stale etag in set-iam-policy changes nothing', async () => {
    const domains = ['a', 'b', 'c', 'd', 'e'].map((d) => `domain:${d}.example.com`)
    const adds = await Promise.all(domains.map((m) => owner(`postern organizations add-iam-policy-binding local --member=${m} --role=roles/run.viewer --quiet`)))
    for (const r of adds) expect(r.code, r.stderr).toBe(0)
    const policy = JSON.parse((await owner('postern organizations get-iam-policy local --format=json')).stdout)
    const viewers = policy.bindings.find((b: { role: string }) => b.role === 'roles/run.viewer')
    expect(new Set(viewers.members)).toEqual(new Set(domains))

    const file = join(p.dataDir, '..', 'stale-org-policy.json')
    writeFileSync(file, JSON.stringify({ bindings: [{ role: 'roles/owner', members: ['user:ann@example.com'] }], etag: 'BwStaleStaleStale' }))
    const stale = await owner(`postern organizations set-iam-policy local ${file}`)
    expect(stale).toMatchObject({ code: 1, stdout: '' })
    expect(stale.stderr).toBe('ERROR: (ABORTED) There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff.\n')

    // Written back with its own etag, as read: the one set-iam-policy that is meant to succeed.
    writeFileSync(file, JSON.stringify({ ...policy, bindings: policy.bindings.filter((b: { role: string }) => b.role !== 'roles/run.viewer') }))
    const restored = await owner(`postern organizations set-iam-policy organizations/local ${file} --format=json`)
    expect(restored.code, restored.stderr).toBe(0)
    expect(restored.stderr).toBe('Updated IAM policy for organization [local].\n')
    expect(JSON.parse(restored.stdout).bindings).toEqual([{ role: 'roles/owner', members: ['user:owner@example.com'] }])
  })

  it('an organization other than local is a usage error naming the accepted forms, before any call', async () => {
    for (const name of ['nope', '123', 'organizations/123', 'organizations/local/x', 'organizations/']) {
      for (const args of [['get-iam-policy', name], ['set-iam-policy', name, '/nonexistent.json'], ['add-iam-policy-binding', name, '--member=user:ann@example.com', '--role=roles/run.invoker'], ['remove-iam-policy-binding', name, '--member=user:ann@example.com', '--role=roles/run.invoker', '--all']]) {
        const r = await p.cli(['organizations', ...args])
        expect(r, `${args.join(' ')}`).toEqual({ code: 2, stdout: '', stderr: `ERROR: Postern has one organization: give it as 'local' or 'organizations/local', not '${name}'.\n` })
      }
    }
    // The resource's name is checked before anything else is said, even with no server to ask.
    const offline = await p.cli(['organizations', 'get-iam-policy', 'nope'], { env: { POSTERN_CONFIG_DIR: join(p.dataDir, '..', 'no-config') } })
    expect(offline.code).toBe(2)
  })

  it('organizations list and describe, as gcloud: the one organization to those who may see it (roles/viewer or more on it)', async () => {
    expect(await owner('postern organizations list')).toMatchObject({ code: 0, stdout: 'DISPLAY_NAME\tID\nlocal\tlocal\n' })
    const described = await owner('postern organizations describe organizations/local --format=json')
    expect(JSON.parse(described.stdout)).toEqual({ name: 'organizations/local', displayName: 'local', state: 'ACTIVE' })
    expect((await owner('postern organizations describe nope')).code).toBe(2)
    // Ann holds no role on it: the list is empty, as the projects list is, and describe is refused.
    expect(await asAnn('postern organizations list')).toEqual({ code: 0, stdout: '', stderr: 'Listed 0 items.\n' })
    const refused = await asAnn('postern organizations describe local')
    expect(refused).toMatchObject({ code: 1, stdout: '' })
    expect(refused.stderr).toMatch(/^ERROR: \(PERMISSION_DENIED\) [^\n]*resourcemanager\.organizations\.get[^\n]*\n$/)
    expect((await owner(`postern organizations add-iam-policy-binding local --member=user:ann@example.com --role=roles/viewer`)).code).toBe(0)
    expect(await asAnn('postern organizations list --format="value(name)"')).toMatchObject({ code: 0, stdout: 'organizations/local\n' })
    expect(await asAnn('postern organizations describe local --format="value(state)"')).toMatchObject({ code: 0, stdout: 'ACTIVE\n' })
    expect((await owner(`postern organizations remove-iam-policy-binding local --member=user:ann@example.com --role=roles/viewer`)).code).toBe(0)
  })

  it('the singular, as typed by habit, is refused with the command meant', async () => {
    const r = await p.cli(['organization', 'add-iam-policy-binding', 'local', '--member=user:ann@example.com', '--role=roles/run.invoker'])
    expect(r).toMatchObject({ code: 2, stdout: '' })
    expect(r.stderr).toBe("ERROR: unknown command 'organization'\n(Did you mean organizations?)\nRun 'postern --help' for usage.\n")
  })

  it('a user who does not own the organization is refused with PERMISSION_DENIED, cleanly, and nothing changes', async () => {
    const before = (await owner('postern organizations get-iam-policy local --format=json')).stdout
    for (const line of [
      `postern organizations add-iam-policy-binding local --member=user:ann@example.com --role=roles/owner`,
      `postern organizations remove-iam-policy-binding local --member=user:owner@example.com --role=roles/owner`,
      'postern organizations get-iam-policy local',
    ]) {
      const r = await asAnn(line)
      expect(r, line).toMatchObject({ code: 1, stdout: '' })
      expect(r.stderr, line).toMatch(/^ERROR: \(PERMISSION_DENIED\) [^\n]*resourcemanager\.organizations\.(get|set)IamPolicy[^\n]*\n$/)
    }
    expect((await owner('postern organizations get-iam-policy local --format=json')).stdout).toBe(before)
  })
})
