import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startPostern, type PosternProcess } from '../support/server.js'
import { createUser, signInUser } from '../support/sign-in.js'

/**
 * What a command prints and what it has done agree, as a gcloud user expects: a --format that
 * cannot be printed is refused before anything is changed; --allow-unauthenticated shows the
 * service as it is after the policy change, and is refused up front to a caller who may not make
 * it; a key that does not work is never stored; tokens take --format as gcloud's do.
 */
describe('the CLI checks first, then changes, then shows what is', () => {
  let p: PosternProcess
  const upstream = 'http://127.0.0.1:9000'
  const members = async (service: string) => (await p.cli(['services', 'get-iam-policy', service, '--format=value(bindings.members)'])).stdout

  beforeAll(async () => {
    p = await startPostern()
    expect((await p.cli(['services', 'create', 'hello', `--upstream=${upstream}`])).code).toBe(0)
    await createUser(p, 'u5@example.com')
  })
  afterAll(() => p?.stop())

  it('an unusable --format is a usage error before the command changes anything', async () => {
    const grant = await p.cli(['services', 'add-iam-policy-binding', 'hello', '--member=user:u5@example.com', '--role=roles/run.invoker', '--format=text(uri)'])
    expect(grant).toMatchObject({ code: 2, stdout: '' })
    expect(await members('hello')).not.toContain('u5@example.com')
    expect(grant.stderr).not.toContain('Updated IAM policy')
    expect(grant.stderr).toContain("ERROR: --format must be yaml, json, table, none, or the fields to print as value(FIELD,…), table(FIELD,…), csv(FIELD,…), json(FIELD,…) or yaml(FIELD,…), e.g. --format='value(uri)', not 'text(uri)'.")

    const created = await p.cli(['services', 'create', 'fmt1', `--upstream=${upstream}`, '--format=value(uri;name)'])
    expect(created).toMatchObject({ code: 2, stdout: '' })
    expect(created.stderr).toContain("is not a field name")
    expect((await p.cli(['services', 'describe', 'fmt1'])).stderr).toContain('NOT_FOUND')

    // A bare table, which only a list can be, likewise: refused before the grant, not after it.
    const table = await p.cli(['services', 'add-iam-policy-binding', 'hello', '--member=user:u5@example.com', '--role=roles/run.invoker', '--format=table'])
    expect(table).toMatchObject({ code: 2, stdout: '', stderr: "ERROR: --format=table lists many resources; for one, use yaml, json or value(FIELD,…), e.g. --format='value(uri)'.\n" })
    expect(await members('hello')).not.toContain('u5@example.com')
    expect(await p.cli(['users', 'create', 'table@example.com', '--format=table'])).toMatchObject({ code: 2, stdout: '' })
    expect((await p.cli(['users', 'describe', 'table@example.com'])).stderr).toContain('NOT_FOUND')
    // Every list still takes it, configurations' too.
    expect(await p.cli(['config', 'configurations', 'list', '--format=table'])).toMatchObject({ code: 0, stdout: expect.stringMatching(/^NAME\tIS_ACTIVE/) })

    const user = await p.cli(['users', 'create', 'fmt@example.com', '--format=xml'])
    expect(user).toMatchObject({ code: 2, stdout: '' })
    expect(user.stderr).not.toContain('Password')
    expect((await p.cli(['users', 'describe', 'fmt@example.com'])).stderr).toContain('NOT_FOUND')
  })

  it("--format=none (and gcloud's --format=disable) prints nothing on stdout; status lines and a new user's password still reach stderr", async () => {
    const grant = await p.cli(['services', 'add-iam-policy-binding', 'hello', '--member=user:u5@example.com', '--role=roles/run.invoker', '--format=none'])
    expect(grant).toMatchObject({ code: 0, stdout: '' })
    expect(grant.stderr).toContain('Updated IAM policy for service [hello].')
    expect(await members('hello')).toContain('user:u5@example.com')
    expect(await p.cli(['services', 'describe', 'hello', '--format=disable'])).toMatchObject({ code: 0, stdout: '' })
    expect(await p.cli(['services', 'list', '--format=none'])).toMatchObject({ code: 0, stdout: '' })

    // The once-only password is never lost: neither to --format=none nor to a projection without it.
    for (const [email, format, stdout] of [['none@example.com', 'none', ''], ['value@example.com', 'value(email)', 'value@example.com\n']] as const) {
      const user = await p.cli(['users', 'create', email, `--format=${format}`])
      expect(user).toMatchObject({ code: 0, stdout })
      const password = /Password \(shown once\): (\S+)/.exec(user.stderr)?.[1]
      expect(password, user.stderr).toBeDefined()
      await signInUser(p, email, password!)
    }
    // A format that prints the password keeps it off stderr, for scripts.
    const scripted = await p.cli(['users', 'create', 'json@example.com', '--format=json'])
    expect(JSON.parse(scripted.stdout).password).toMatch(/\S{8,}/)
    expect(scripted.stderr).not.toContain('Password')
  })

  it('services create and update --[no-]allow-unauthenticated print the service as it is after the policy change', async () => {
    const created = await p.cli(['services', 'create', 'api5', `--upstream=${upstream}`, '--allow-unauthenticated', '--format=value(allUsersMayInvoke)'])
    expect(created).toMatchObject({ code: 0, stdout: 'true\n' })
    expect((await p.cli(['services', 'describe', 'api5', '--format=value(allUsersMayInvoke)'])).stdout).toBe('true\n')
    const closed = await p.cli(['services', 'update', 'api5', '--no-allow-unauthenticated', '--description=private again', '--format=json'])
    expect(closed.code, closed.stderr).toBe(0)
    expect(JSON.parse(closed.stdout)).toMatchObject({ allUsersMayInvoke: false, description: 'private again' })
    const opened = await p.cli(['services', 'update', 'api5', '--allow-unauthenticated', '--format=value(allUsersMayInvoke)'])
    expect(opened).toMatchObject({ code: 0, stdout: 'true\n' })
  })

  it('--allow-unauthenticated by a caller who may not set the IAM policy is refused before the service is created or changed, naming the command that would', async () => {
    await createUser(p, 'bob@example.com', 'bob-password-123')
    expect((await p.cli(['projects', 'add-iam-policy-binding', 'my-project', '--member=user:bob@example.com', '--role=roles/run.developer'])).code).toBe(0)
    const bob = await signInUser(p, 'bob@example.com', 'bob-password-123')
    const asBob = (args: string[]) => p.cli(args, { configDir: bob.configDir })
    const hint = 'postern services add-iam-policy-binding bobsvc --project=my-project --member=allUsers --role=roles/run.invoker'

    const refused = await asBob(['services', 'create', 'bobsvc', `--upstream=${upstream}`, '--allow-unauthenticated'])
    expect(refused.code).toBe(1)
    expect(refused.stderr).toContain("ERROR: (PERMISSION_DENIED) --allow-unauthenticated changes the IAM policy of service [bobsvc], which needs 'run.services.setIamPolicy'")
    expect(refused.stderr).toContain(`Nothing was created. Run the command without --allow-unauthenticated, and ask someone who may set the service's IAM policy to run:\n  ${hint}`)
    expect((await p.cli(['services', 'describe', 'bobsvc'])).stderr).toContain('NOT_FOUND')

    // Without the flag Bob may create it, then change it, but not open it.
    expect((await asBob(['services', 'create', 'bobsvc', `--upstream=${upstream}`])).code).toBe(0)
    const update = await asBob(['services', 'update', 'bobsvc', '--upstream=http://127.0.0.1:9001', '--allow-unauthenticated'])
    expect(update.code).toBe(1)
    expect(update.stderr).toContain(`Nothing was changed. Run the command without --allow-unauthenticated`)
    expect((await p.cli(['services', 'describe', 'bobsvc', '--format=value(upstream,allUsersMayInvoke)'])).stdout).toBe(`${upstream}\tfalse\n`)
    // Already private: --no-allow-unauthenticated writes nothing, so reading the policy is enough.
    const privately = await asBob(['services', 'update', 'bobsvc', '--upstream=http://127.0.0.1:9001', '--no-allow-unauthenticated', '--format=value(upstream)'])
    expect(privately).toMatchObject({ code: 0, stdout: 'http://127.0.0.1:9001\n' })
    // Once the owner has made it public, Bob cannot make it private either, and hears who can.
    expect((await p.cli(['services', 'add-iam-policy-binding', 'bobsvc', '--member=allUsers', '--role=roles/run.invoker'])).code).toBe(0)
    const closing = await asBob(['services', 'update', 'bobsvc', '--no-allow-unauthenticated'])
    expect(closing.code).toBe(1)
    expect(closing.stderr).toContain('postern services remove-iam-policy-binding bobsvc --project=my-project --member=allUsers --role=roles/run.invoker')
  })

  it('services update --max-access-request-duration that would be refused changes nothing: its range and its permission are checked before the service is patched', async () => {
    expect((await p.cli(['services', 'create', 'limited', `--upstream=${upstream}`])).code).toBe(0)
    const description = async () => (await p.cli(['services', 'describe', 'limited', '--format=value(description)'])).stdout
    const long = await p.cli(['services', 'update', 'limited', '--description=changed', '--max-access-request-duration=30d'])
    expect(long).toMatchObject({ code: 2, stdout: '', stderr: "ERROR: --max-access-request-duration must be between 1m and 7d, not '30d'.\n" })
    expect(await description()).toBe('\n')
    // A developer of the service may update it, not set its limit.
    await createUser(p, 'dana@example.com', 'dana-password-123')
    expect((await p.cli(['services', 'add-iam-policy-binding', 'limited', '--member=user:dana@example.com', '--role=roles/run.developer'])).code).toBe(0)
    const dana = await signInUser(p, 'dana@example.com', 'dana-password-123')
    const refused = await p.cli(['services', 'update', 'limited', '--description=changed', '--max-access-request-duration=2h'], { configDir: dana.configDir })
    expect(refused).toMatchObject({ code: 1, stdout: '' })
    expect(refused.stderr).toContain("ERROR: (PERMISSION_DENIED) --max-access-request-duration needs 'run.services.setIamPolicy' on service [limited] (roles/run.admin has it), which you do not have there. Nothing was changed.")
    expect(await description()).toBe('\n')
    const done = await p.cli(['services', 'update', 'limited', '--description=changed', '--max-access-request-duration=2h', '--format=value(description)'])
    expect(done).toMatchObject({ code: 0, stdout: 'changed\n', stderr: expect.stringContaining('may now ask for at most 2h') })
  })

  it('a policy write refused after the service was made says the service was made, what is left to do, and exits 1', async () => {
    expect((await p.cli(['projects', 'create', 'locked-project'])).code).toBe(0)
    const tests = join(mkdtempSync(join(tmpdir(), 'postern-tests-')), 'tests.yaml')
    writeFileSync(tests, '- {member: allUsers, permission: run.routes.invoke, expect: deny}\n')
    expect((await p.cli(['projects', 'set-access-tests', 'locked-project', tests])).code).toBe(0)

    const created = await p.cli(['services', 'create', 'pub', `--upstream=${upstream}`, '--project=locked-project', '--allow-unauthenticated', '--format=value(uri)'])
    expect(created.code).toBe(1)
    expect(created.stdout).toMatch(/^http:\/\/pub\.locked-project\.localhost:\d+\n$/)
    expect(created.stderr).toContain('Service [pub] created in project [locked-project].')
    expect(created.stderr).toContain("Service [pub] was created, but its IAM policy was not changed: it is not public. To finish, someone who may set the service's IAM policy runs:\n  postern services add-iam-policy-binding pub --project=locked-project --member=allUsers --role=roles/run.invoker")
    expect((await p.cli(['services', 'describe', 'pub', '--project=locked-project', '--format=value(allUsersMayInvoke)'])).stdout).toBe('false\n')
  })

  it('activate-service-account with a key that does not work stores nothing and leaves the active account as it was', async () => {
    const sa = 'robot-one@my-project.iam.postern.internal'
    expect((await p.cli(['iam', 'service-accounts', 'create', 'robot-one'])).code).toBe(0)
    const file = join(mkdtempSync(join(tmpdir(), 'postern-key-')), 'key.json')
    expect((await p.cli(['iam', 'service-accounts', 'keys', 'create', file, '--iam-account', sa])).code).toBe(0)
    const keyId = (JSON.parse(readFileSync(file, 'utf8')) as { private_key_id: string }).private_key_id
    expect((await p.cli(['iam', 'service-accounts', 'keys', 'delete', keyId, '--iam-account', sa])).code).toBe(0)

    // A copy of the owner's CLI, the owner active in it.
    const configDir = mkdtempSync(join(tmpdir(), 'postern-cli-'))
    cpSync(p.configDir, configDir, { recursive: true })
    const before = await p.cli(['auth', 'list', '--format=value(account,status)'], { configDir })
    const activated = await p.cli(['auth', 'activate-service-account', `--key-file=${file}`], { configDir })
    expect(activated.code).toBe(1)
    expect(activated.stderr).toContain(`Could not get a token for ${sa}`)
    expect(activated.stderr).not.toContain('Activated')
    expect(await p.cli(['auth', 'list', '--format=value(account,status)'], { configDir })).toMatchObject({ code: 0, stdout: before.stdout })
    expect(before.stdout).toBe('owner@example.com\tACTIVE\n')
    expect((await p.cli(['projects', 'list', '--format=value(projectId)'], { configDir })).code).toBe(0)

    // A key that works is stored and made active, as before.
    expect((await p.cli(['iam', 'service-accounts', 'keys', 'create', file.replace('key.json', 'good.json'), '--iam-account', sa])).code).toBe(0)
    const good = await p.cli(['auth', 'activate-service-account', `--key-file=${file.replace('key.json', 'good.json')}`], { configDir })
    expect(good).toMatchObject({ code: 0, stderr: `Activated service account credentials for: [${sa}]\n` })
    expect((await p.cli(['auth', 'list', '--filter=status:ACTIVE', '--format=value(account)'], { configDir })).stdout).toBe(`${sa}\n`)
  })

  it("print-identity-token and print-access-token take --format as gcloud's do; the default stays the bare token", async () => {
    const jwt = /^[\w-]+\.[\w-]+\.[\w-]+$/
    for (const [command, field] of [['print-identity-token', 'id_token'], ['print-access-token', 'token']] as const) {
      const bare = await p.cli(['auth', command])
      expect(bare.code, bare.stderr).toBe(0)
      expect(bare.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/)
      const json = await p.cli(['auth', command, '--format=json'])
      expect(json.code, json.stderr).toBe(0)
      const printed = JSON.parse(json.stdout) as Record<string, string>
      expect(Object.keys(printed)).toEqual([field])
      expect(printed[field]).toMatch(jwt)
      expect(await p.cli(['auth', command, `--format=value(${field})`])).toMatchObject({ code: 0, stdout: expect.stringMatching(/^[\w-]+\.[\w-]+\.[\w-]+\n$/) })
      expect(await p.cli(['auth', command, '--format=none'])).toMatchObject({ code: 0, stdout: '' })
    }
  })
})
