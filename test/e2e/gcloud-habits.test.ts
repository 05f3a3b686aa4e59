import { spawn } from 'node:child_process'
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { eventually } from '../support/eventually.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BIN } from '../support/cli.js'
import { approveDevice, startLogin } from '../support/device-login.js'
import { startPostern, type PosternProcess } from '../support/server.js'
import { signInUser } from '../support/sign-in.js'
import { createUser } from '../support/web-sign-in.js'

/** What gcloud's users type by habit works, or is refused with the form that does. */

/** Runs a command line on a terminal (util-linux `script` gives it a pty), typing `input`. */
function onTerminal(args: string[], o: { configDir: string; input: string }): Promise<{ code: number; output: string }> {
  const line = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ')
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', line, '/dev/null'], { env: { ...process.env, POSTERN_CONFIG_DIR: o.configDir }, stdio: ['pipe', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (d: Buffer) => (output += d))
    child.stderr.on('data', (d: Buffer) => (output += d))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code: code ?? -1, output }))
    child.stdin.end(o.input)
  })
}

describe('gcloud habits', () => {
  let p: PosternProcess
  let uri: string
  beforeAll(async () => {
    p = await startPostern()
    const created = await p.cli(['services', 'create', 'hello', '--upstream=http://127.0.0.1:9000', '--format=json'])
    expect(created.code, created.stderr).toBe(0)
    uri = JSON.parse(created.stdout).uri
    for (const args of [['users', 'create', 'ann@example.com'], ['groups', 'create', 'eng@example.com']]) expect((await p.cli(args)).code).toBe(0)
    for (const member of ['user:ann@example.com', 'group:eng@example.com']) {
      expect((await p.cli(['services', 'add-iam-policy-binding', 'hello', `--member=${member}`, '--role=roles/run.invoker'])).code).toBe(0)
    }
  })
  afterAll(() => p?.stop())

  it("--format='value(uri)' and --format='value(bindings.members)' print what scripts read", async () => {
    // $ postern services describe hello --format='value(uri)'
    const describe = await p.cli(['services', 'describe', 'hello', '--format=value(uri)'])
    expect(describe).toMatchObject({ code: 0, stdout: `${uri}\n` })
    const list = await p.cli(['services', 'list', '--format=value(uri)'])
    expect(list.stdout).toBe(`${uri}\n`)
    // $ postern services get-iam-policy hello --format='value(bindings.members)'
    const members = await p.cli(['services', 'get-iam-policy', 'hello', '--format=value(bindings.members)'])
    expect(members.stdout).toBe('group:eng@example.com;user:ann@example.com\n')
    const two = await p.cli(['services', 'describe', 'hello', '--format=value(name,upstream)'])
    expect(two.stdout).toBe('projects/my-project/services/hello\thttp://127.0.0.1:9000\n')
  })

  it("Cloud Run's own field names project as gcloud prints them: --format='value(status.url)', as Cloud Run's docs script it", async () => {
    // $ SERVICE_URL=$(postern services describe hello --format='value(status.url)')
    expect(await p.cli(['services', 'describe', 'hello', '--format=value(status.url)'])).toMatchObject({ code: 0, stdout: `${uri}\n` })
    expect((await p.cli(['services', 'list', '--format=value(metadata.name,status.address.url,metadata.namespace)'])).stdout).toBe(`hello\t${uri}\tmy-project\n`)
    // JSON and YAML stay Postern's (Cloud Run v2's) fields alone.
    expect(Object.keys(JSON.parse((await p.cli(['services', 'describe', 'hello', '--format=json'])).stdout))).not.toContain('status')
  })

  it('config get-value project, and gcloud\'s section prefix core/', async () => {
    expect(await p.cli(['config', 'get-value', 'project'])).toMatchObject({ code: 0, stdout: 'my-project\n' })
    expect(await p.cli(['config', 'get', 'core/project'])).toMatchObject({ code: 0, stdout: 'my-project\n' })
    expect(await p.cli(['config', 'get-value', 'run/region'])).toMatchObject({ code: 2, stderr: expect.stringContaining("Unknown property 'run/region'") })
    // $ postern config set project=other-project (refused, as gcloud refuses it, with the two-word form; nothing written)
    const joined = await p.cli(['config', 'set', 'project=other-project'])
    expect(joined).toMatchObject({ code: 2, stdout: '', stderr: 'ERROR: config set takes the property and its value as two words, as gcloud does. Did you mean:\n  postern config set project other-project\n' })
    expect(await p.cli(['config', 'get-value', 'project'])).toMatchObject({ code: 0, stdout: 'my-project\n' })
  })

  it("config set warns, as gcloud does, of a project one cannot open and of an account without credentials, and keeps them", async () => {
    const configDir = mkdtempSync(join(tmpdir(), 'postern-config-'))
    cpSync(p.configDir, configDir, { recursive: true })
    const nope = await p.cli(['config', 'set', 'project', 'nope-proj'], { configDir })
    expect(nope).toMatchObject({ code: 0, stderr: 'Updated property [project].\nWARNING: You do not appear to have access to project [nope-proj] or it does not exist.\n' })
    expect((await p.cli(['config', 'get', 'project'], { configDir })).stdout).toBe('nope-proj\n')
    expect(await p.cli(['config', 'set', 'project', 'my-project'], { configDir })).toMatchObject({ code: 0, stderr: 'Updated property [project].\n' })
    const ghost = await p.cli(['config', 'set', 'account', 'ghost@example.com'], { configDir })
    expect(ghost).toMatchObject({ code: 0, stderr: expect.stringContaining('WARNING: There are no credentials for [ghost@example.com] here: sign in as it (postern auth login)') })
  })

  it('an account without credentials is named in the command to run: auth login ACCOUNT, or activate-service-account for a service account', async () => {
    // $ postern auth print-identity-token nobody@example.com
    expect(await p.cli(['auth', 'print-identity-token', 'nobody@example.com'])).toMatchObject({ code: 1, stdout: '', stderr: 'ERROR: No credentials for nobody@example.com. Run: postern auth login nobody@example.com\n' })
    expect(await p.cli(['auth', 'print-access-token', 'bot-one@my-project.iam.postern.internal'])).toMatchObject({
      code: 1,
      stderr: 'ERROR: No credentials for bot-one@my-project.iam.postern.internal. Run: postern auth activate-service-account bot-one@my-project.iam.postern.internal --key-file=FILE\n',
    })
  })

  it('--format=table is honoured for lists and refused for one resource, never printed as YAML', async () => {
    const table = await p.cli(['services', 'list', '--format=table'])
    expect(table.stdout).toMatch(/^SERVICE\tURL\tUPSTREAM/)
    const one = await p.cli(['services', 'describe', 'hello', '--format=table'])
    expect(one.code).toBe(2)
    expect(one.stdout).toBe('')
    expect(one.stderr).toContain("--format=table lists many resources; for one, use yaml, json or value(FIELD,…), e.g. --format='value(uri)'.")
    const unknown = await p.cli(['services', 'list', '--format=text'])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain('--format must be yaml, json, table, none, or the fields to print as value(FIELD,…), table(FIELD,…), csv(FIELD,…), json(FIELD,…) or yaml(FIELD,…)')
  })

  it("gcloud's csv(…), csv[no-heading](…), json(…) and yaml(…) projections print only those fields", async () => {
    // $ postern services list --format='csv(metadata.name,uri)'
    expect(await p.cli(['services', 'list', '--filter=metadata.name=hello', '--format=csv(metadata.name,uri)'])).toMatchObject({ code: 0, stdout: `name,uri\nhello,${uri}\n` })
    expect(await p.cli(['services', 'describe', 'hello', '--format=csv[no-heading](upstream,status.url)'])).toMatchObject({ code: 0, stdout: `http://127.0.0.1:9000,${uri}\n` })
    // $ postern services describe hello --format='json(name,status.url)'
    const json = await p.cli(['services', 'describe', 'hello', '--format=json(name,status.url)'])
    expect(JSON.parse(json.stdout)).toEqual({ name: 'projects/my-project/services/hello', status: { url: uri } })
    expect(JSON.parse((await p.cli(['services', 'list', '--filter=metadata.name=hello', '--format=json(uri)'])).stdout)).toEqual([{ uri }])
    const yaml = await p.cli(['services', 'get-iam-policy', 'hello', '--format=yaml(bindings.members)'])
    expect(yaml).toMatchObject({ code: 0, stdout: 'bindings:\n  - members:\n      - group:eng@example.com\n      - user:ann@example.com\n' })
    // Attributes gcloud has and Postern does not are refused, not ignored; nothing is changed first.
    expect(await p.cli(['services', 'update', 'hello', '--description=x', "--format=csv[delimiter=';'](uri)"])).toMatchObject({ code: 2, stdout: '', stderr: expect.stringContaining('only [no-heading] is taken') })
    expect(await p.cli(['services', 'describe', 'hello', '--format=value(description)'])).toMatchObject({ stdout: '\n' })
  })

  it("services list --uri prints each service's URL alone, one a line, after the list flags, as gcloud run's", async () => {
    // $ postern services list --uri
    const all = await p.cli(['services', 'list', '--uri'])
    expect(all).toMatchObject({ code: 0, stderr: '' })
    expect(all.stdout.split('\n')).toContain(uri)
    expect(all.stdout).toMatch(/^(https?:\/\/\S+\n)+$/)
    expect(await p.cli(['services', 'list', '--uri', '--filter=metadata.name=hello'])).toMatchObject({ code: 0, stdout: `${uri}\n` })
    expect(await p.cli(['services', 'list', '--uri', '--filter=metadata.name=nosuch'])).toMatchObject({ code: 0, stdout: '', stderr: 'Listed 0 items.\n' })
    expect(await p.cli(['services', 'list', '--uri', '--format=json'])).toMatchObject({ code: 2, stdout: '', stderr: expect.stringContaining('--uri prints one URL a line; leave out --format') })
  })

  it('tables are plain tab-separated columns when piped, aligned on a terminal', async () => {
    const piped = await p.cli(['services', 'list'])
    expect(piped.stdout.split('\n')[1]).toBe(`hello\t${uri}\thttp://127.0.0.1:9000\trequired\tuser:owner@example.com`)
    const terminal = await onTerminal(['services', 'list'], { configDir: p.configDir, input: '' })
    expect(terminal.output).toMatch(/SERVICE {2}URL {2,}UPSTREAM/)
  })

  it('services list says when no token is needed because allUsers may invoke, as Cloud Run’s console says “Allow unauthenticated”', async () => {
    const open = await p.cli(['services', 'create', 'open-door', '--upstream=http://127.0.0.1:9000', '--allow-unauthenticated'])
    expect(open.code, open.stderr).toBe(0)
    try {
      const row = async () => (await p.cli(['services', 'list', '--filter=metadata.name:open-door'])).stdout.split('\n')[1]!.split('\t')[3]
      await eventually(5_000, async () => (await row()) === 'none (allUsers may invoke)', 'the list saying allUsers may invoke')
      expect((await p.cli(['services', 'describe', 'open-door', '--format=value(allUsersMayInvoke)'])).stdout).toBe('true\n')
      // Every answer carries it, an update's too, as every read does.
      expect((await p.cli(['services', 'update', 'open-door', '--description=d', '--format=value(allUsersMayInvoke)'])).stdout).toBe('true\n')
      expect((await p.cli(['services', 'remove-iam-policy-binding', 'open-door', '--member=allUsers', '--role=roles/run.invoker'])).code).toBe(0)
      await eventually(5_000, async () => (await row()) === 'required', 'the list saying a token is required again')
    } finally {
      await p.cli(['services', 'delete', 'open-door', '--quiet'])
    }
  })

  it('an empty list prints nothing on stdout and "Listed 0 items." on stderr', async () => {
    const r = await p.cli(['iam', 'service-accounts', 'list'])
    expect(r).toMatchObject({ code: 0, stdout: '', stderr: 'Listed 0 items.\n' })
  })

  it('--filter, --sort-by and --limit narrow lists as gcloud’s do, and a filter that does not parse is a usage error before any call', async () => {
    for (const name of ['api-one', 'api-two']) expect((await p.cli(['services', 'create', name, '--upstream=http://127.0.0.1:9000'])).code).toBe(0)
    // $ postern services list --filter="metadata.name:api" --format="value(metadata.name)"
    const filtered = await p.cli(['services', 'list', '--filter=metadata.name:api', '--format=value(metadata.name)'])
    expect(filtered).toMatchObject({ code: 0, stdout: 'api-one\napi-two\n' })
    const newest = await p.cli(['services', 'list', '--sort-by=~metadata.name', '--limit=2', '--format=value(metadata.name)'])
    expect(newest).toMatchObject({ code: 0, stdout: 'hello\napi-two\n' })
    const granted = await p.cli(['services', 'list', '--filter=NOT name:api AND lastModifier:user', '--format=value(uri)'])
    expect(granted).toMatchObject({ code: 0, stdout: `${uri}\n` })
    const users = await p.cli(['users', 'list', '--filter=email~^ann@', '--format=value(email)'])
    expect(users).toMatchObject({ code: 0, stdout: 'ann@example.com\n' })
    const none = await p.cli(['services', 'list', '--filter=name=nothing'])
    expect(none).toMatchObject({ code: 0, stdout: '', stderr: 'Listed 0 items.\n' })
    // Checked before the call: the same answer from a CLI that is not signed in to any server.
    const nowhere = mkdtempSync(join(tmpdir(), 'postern-cli-'))
    const broken = await p.cli(['services', 'list', '--project=my-project', '--filter=metadata.name:(api'], { configDir: nowhere })
    expect(broken.code).toBe(2)
    expect(broken.stderr).toContain("--filter=metadata.name:(api: a '(' is never closed")
    expect((await p.cli(['services', 'list', '--limit=0'])).stderr).toContain("--limit must be a positive number, not '0'.")
  })

  it('a label key with - filters, prints and sorts as gcloud’s do; a key that is not one is a usage error, never an empty list', async () => {
    for (const [name, labels] of [['ledger', 'cost-center=42,postern-demo=true'], ['audit', 'cost-center=7']] as const) {
      expect((await p.cli(['services', 'create', name, '--upstream=http://127.0.0.1:9000', `--labels=${labels}`])).code).toBe(0)
    }
    // $ postern services list --filter='labels.postern-demo=true labels.cost-center=42' --format='value(metadata.name)'
    const both = await p.cli(['services', 'list', '--filter=labels.postern-demo=true labels.cost-center=42', '--format=value(metadata.name)'])
    expect(both).toMatchObject({ code: 0, stdout: 'ledger\n' })
    // - starts a term as NOT; inside a key it is the key's.
    expect(await p.cli(['services', 'list', '--filter=labels.cost-center:* -labels.cost-center=42', '--format=value(metadata.name)'])).toMatchObject({ code: 0, stdout: 'audit\n' })
    const sorted = await p.cli(['services', 'list', '--filter=labels.cost-center:*', '--sort-by=~labels.cost-center', '--format=value(metadata.name,labels.cost-center,metadata.labels.cost-center)'])
    expect(sorted).toMatchObject({ code: 0, stdout: 'ledger\t42\t42\naudit\t7\t7\n' })
    const notAKey = await p.cli(['services', 'list', '--filter=labels.cost/center=42'])
    expect(notAKey).toMatchObject({ code: 2, stdout: '', stderr: expect.stringContaining("'labels.cost/center' is not a key") })
  })

  it("services update changes labels as gcloud run's does: --labels (an alias of --update-labels) keeps the others, --remove-labels, --clear-labels first", async () => {
    expect((await p.cli(['services', 'create', 'billing', '--upstream=http://127.0.0.1:9000', '--labels=team=payments,cost-center=42,env=prod'])).code).toBe(0)
    const labels = async (...flags: string[]) => {
      const r = await p.cli(['services', 'update', 'billing', ...flags, '--format=json'])
      expect(r.code, r.stderr).toBe(0)
      return JSON.parse(r.stdout).labels
    }
    // $ postern services update billing --labels=env=dev
    expect(await labels('--labels=env=dev')).toEqual({ team: 'payments', 'cost-center': '42', env: 'dev' })
    expect(await labels('--update-labels=owner=ann,team=ops', '--remove-labels=team,absent')).toEqual({ 'cost-center': '42', env: 'dev', owner: 'ann' })
    expect(await labels('--clear-labels', '--update-labels=cost-center=7')).toEqual({ 'cost-center': '7' })
    // gcloud's exclusive pairs and a key the server would refuse: usage errors before any call, from a CLI signed in nowhere.
    const nowhere = mkdtempSync(join(tmpdir(), 'postern-cli-'))
    const both = await p.cli(['services', 'update', 'billing', '--project=my-project', '--labels=a=1', '--update-labels=b=2'], { configDir: nowhere })
    expect(both).toMatchObject({ code: 2, stderr: expect.stringContaining('Use one of --labels and --update-labels') })
    const key = await p.cli(['services', 'update', 'billing', '--project=my-project', '--clear-labels', '--update-labels=Cost-Center=7'], { configDir: nowhere })
    expect(key).toMatchObject({ code: 2, stderr: expect.stringContaining("--update-labels: 'Cost-Center' is not a label key") })
    // A key given twice, in one list or across repeated flags, is refused naming it rather than one value kept unseen.
    const twice = await p.cli(['services', 'update', 'billing', '--project=my-project', '--update-labels=env=dev,env=prod'], { configDir: nowhere })
    expect(twice).toMatchObject({ code: 2, stderr: expect.stringContaining("--update-labels: the key 'env' is given twice ('dev', 'prod')") })
    const repeated = await p.cli(['services', 'create', 'ledger2', '--project=my-project', '--upstream=http://127.0.0.1:9000', '--labels=env=dev', '--labels=env=prod'], { configDir: nowhere })
    expect(repeated).toMatchObject({ code: 2, stderr: expect.stringContaining("--labels: the key 'env' is given twice") })
    // Repeated flags merge, as gcloud's: both labels land, none dropped.
    expect(await labels('--update-labels=owner=bob', '--update-labels=team=ops')).toEqual({ 'cost-center': '7', owner: 'bob', team: 'ops' })
  })

  it("get-iam-policy takes gcloud's list flags: --flatten='bindings[].members' with --filter and --format says which roles a member holds", async () => {
    // $ postern services get-iam-policy hello --flatten='bindings[].members' --filter='bindings.members:user:ann@example.com' --format='value(bindings.role)'
    const flat = ['services', 'get-iam-policy', 'hello', '--flatten=bindings[].members']
    expect(await p.cli([...flat, '--filter=bindings.members:user:ann@example.com', '--format=value(bindings.role)'])).toMatchObject({ code: 0, stdout: 'roles/run.invoker\n' })
    const table = await p.cli([...flat, '--format=table(bindings.role, bindings.members)', '--sort-by=bindings.members'])
    expect(table).toMatchObject({ code: 0, stdout: 'ROLE\tMEMBERS\nroles/run.invoker\tgroup:eng@example.com\nroles/run.invoker\tuser:ann@example.com\n' })
    expect((await p.cli([...flat, '--limit=1', '--format=json'])).stdout).toMatch(/^\[\n {2}\{[^[]*"members": "group:eng@example\.com"[^[]*\}\n\]\n$/)
    const yaml = await p.cli(flat)
    expect(yaml.stdout.split('---\n').filter(Boolean)).toHaveLength(2)
    expect(yaml.stdout).toContain('members: user:ann@example.com')
    expect(await p.cli([...flat, '--filter=bindings.members:user:nobody@example.com'])).toMatchObject({ code: 0, stdout: '', stderr: 'Listed 0 items.\n' })
    // A policy without bindings flattens to no records (the project's: its owner is no binding).
    expect(await p.cli(['projects', 'get-iam-policy', 'my-project', '--flatten=bindings[].members'])).toMatchObject({ code: 0, stdout: '', stderr: 'Listed 0 items.\n' })
    // Without list flags, the policy as it is, ready for set-iam-policy.
    expect(JSON.parse((await p.cli(['services', 'get-iam-policy', 'hello', '--format=json'])).stdout)).toMatchObject({ etag: expect.any(String), bindings: [{ members: ['group:eng@example.com', 'user:ann@example.com'] }] })
    const bad = await p.cli(['services', 'get-iam-policy', 'hello', '--flatten=bindings[0].members'])
    expect(bad).toMatchObject({ code: 2, stdout: '', stderr: expect.stringContaining("--flatten=bindings[0].members: 'bindings[0].members' is not a key such as bindings or bindings[].members.") })
    expect((await p.cli([...flat, '--format=table'])).stderr).toContain("--format=table needs the fields to show here, e.g. --format='table(bindings.role, bindings.members)'.")
  })

  it('a group without its command is a usage error (exit 2) after its help, as gcloud; asking for help is not', async () => {
    const group = await p.cli(['services'])
    expect(group).toMatchObject({ code: 2, stdout: '' })
    expect(group.stderr).toMatch(/^Usage: postern services \[options\] \[command\][\s\S]*ERROR: a command name is expected \(see above\)\.\n$/)
    expect((await p.cli([])).code).toBe(2)
    for (const args of [['services', '--help'], ['help', 'services'], ['help']]) expect((await p.cli(args)).code, args.join(' ')).toBe(0)
  })

  it("auth login --no-launch-browser (gcloud's older name for --no-browser) signs in with a code", async () => {
    const password = await createUser(p.api, 'dev@example.com')
    const configDir = mkdtempSync(join(tmpdir(), 'postern-habit-'))
    expect((await p.cli(['config', 'set', 'server', p.controlUrl], { configDir })).code).toBe(0)
    const login = startLogin(['--no-launch-browser'], { configDir })
    try {
      await approveDevice(p.controlUrl, { email: 'dev@example.com', password, code: (await login.prompt).code })
      const done = await login.done
      expect(done.code, done.stderr).toBe(0)
      expect(done.stderr).toContain('You are now logged in as [dev@example.com].')
      expect(done.stderr).not.toContain('Could not open a browser') // none was tried first
    } finally {
      login.kill()
    }
    // Not offered in the help: --no-browser is Postern's name for it.
    expect((await p.cli(['auth', 'login', '--help'])).stdout).not.toContain('launch')
  })

  it('--version', async () => {
    expect(await p.cli(['--version'])).toMatchObject({ code: 0, stdout: 'postern 0.1.0\n' })
  })

  it('suggests postern services for gcloud run services, and the flag meant for a near miss', async () => {
    // $ postern run services list
    const run = await p.cli(['run', 'services', 'list'])
    expect(run.code).toBe(2)
    expect(run.stderr).toContain("gcloud's 'run services …' commands are 'postern services …' here. Did you mean:\n  postern services list\n")
    // $ postern --project my-project run services describe hello --region us-central1 (gcloud wants a region; Postern has none)
    const regional = await p.cli(['--project', 'my-project', 'run', 'services', 'describe', 'hello', '--region', 'us-central1', '--format=value(uri)'])
    expect(regional.code).toBe(2)
    expect(regional.stderr).toContain("Did you mean:\n  postern --project my-project services describe hello '--format=value(uri)'\n")
    const typed = await p.cli(['services', 'describe', 'hello', '--region=us-central1'])
    expect(typed.code).toBe(2)
    expect(typed.stderr).toContain("ERROR: unknown option '--region=us-central1'\n(Postern has no regions: a service is named by its project and name. Leave --region out.)")
    // $ postern services list --region us-central1 (commander alone would suggest --version)
    const spaced = await p.cli(['services', 'list', '--region', 'us-central1'])
    expect(spaced.code).toBe(2)
    expect(spaced.stderr).toContain("ERROR: unknown option '--region'\n(Postern has no regions: a service is named by its project and name. Leave --region out.)\n")
    expect(spaced.stderr).not.toContain('--version')
    // $ postern services list --account=ann@example.com (gcloud runs one command as another account; Postern's way is said)
    const account = await p.cli(['services', 'list', '--account=ann@example.com'])
    expect(account).toMatchObject({ code: 2, stdout: '' })
    expect(account.stderr).toContain("ERROR: unknown option '--account=ann@example.com'\n(Postern has no --account flag: a command runs as the active account. To make another signed-in account (postern auth list) the active one: postern config set account ann@example.com; or run the command with --configuration=NAME")
    expect((await p.cli(['--account', 'ann@example.com', 'services', 'list'])).stderr).toContain('postern config set account EMAIL;')
    expect((await p.cli(['services', 'describe', 'hello', '--format=value(uri)'])).stdout).toBe(`${uri}\n`)
    // $ postern auth print-identity-token --audience=URL
    const audience = await p.cli(['auth', 'print-identity-token', `--audience=${uri}`])
    expect(audience.code).toBe(2)
    expect(audience.stderr).toContain('(Did you mean --audiences?)')
    expect(audience.stderr).toContain("Run 'postern auth print-identity-token --help' for usage.")
    const custom = await p.cli(['services', 'update', 'hello', '--audiences=https://api.example.com'])
    expect(custom.stderr).toContain('(Did you mean --custom-audiences?)')
    // A typo with its value attached, and a mistyped role.
    expect((await p.cli(['services', 'list', '--fromat=json'])).stderr).toContain("ERROR: unknown option '--fromat=json'\n(Did you mean --format?)")
    const role = await p.cli(['services', 'add-iam-policy-binding', 'hello', '--member=user:ann@example.com', '--role=roles/run.invokr'])
    expect(role).toMatchObject({ code: 1, stderr: expect.stringContaining("Role 'roles/run.invokr' is not supported. Did you mean 'roles/run.invoker'?") })
    // remove-iam-policy-binding edits the policy itself, yet says of a mistyped role what add does.
    for (const [group, name] of [['services', 'hello'], ['projects', 'my-project']] as const) {
      const add = await p.cli([group, 'add-iam-policy-binding', name, '--member=user:ann@example.com', '--role=run.invoker'])
      expect(add).toMatchObject({ code: 1, stderr: expect.stringContaining("(INVALID_ARGUMENT) Role 'run.invoker' is not supported. Did you mean 'roles/run.invoker'?") })
      const remove = [group, 'remove-iam-policy-binding', name, '--member=user:ann@example.com', '--role=run.invoker']
      expect(await p.cli(remove), group).toMatchObject({ code: 1, stderr: add.stderr })
      expect(await p.cli([...remove, '--dry-run']), group).toMatchObject({ code: 1, stderr: add.stderr })
    }
    // A role that exists but is not held is "not found", in gcloud's words.
    const unheld = await p.cli(['services', 'remove-iam-policy-binding', 'hello', '--member=user:ann@example.com', '--role=roles/run.viewer'])
    expect(unheld).toMatchObject({ code: 1, stderr: expect.stringContaining('Policy binding with the specified principal, role, and condition not found: user:ann@example.com does not hold roles/run.viewer.') })
    // gcloud's duration for --timeout, and its range said before any call.
    expect(await p.cli(['services', 'update', 'hello', '--timeout=5m', '--format=value(timeoutSeconds)'])).toMatchObject({ code: 0, stdout: '300\n' })
    expect(await p.cli(['services', 'update', 'hello', '--timeout=5000'])).toMatchObject({ code: 2, stderr: expect.stringContaining("--timeout must be between 1s and 1h (3600 seconds), not '5000'.") })
  })

  it("gcloud's run deploy and auth application-default, which Postern has no counterpart of, say what to type instead", async () => {
    const listed = async () => (await p.cli(['services', 'list', '--format=value(name)'])).stdout
    const before = await listed()
    // $ postern run deploy web --image=gcr.io/p/web --allow-unauthenticated --region=us-central1
    const deploy = await p.cli(['run', 'deploy', 'web', '--image=gcr.io/p/web', '--allow-unauthenticated', '--region=us-central1'])
    expect(deploy.code).toBe(2)
    expect(deploy.stderr).toContain("no 'run deploy'")
    expect(deploy.stderr).toContain('\n  postern services create web --upstream=URL\n')
    expect(deploy.stderr).toContain('\n  postern services add-iam-policy-binding web --member=allUsers --role=roles/run.invoker\n')
    expect(deploy.stderr).not.toContain('unknown command')
    // $ postern auth application-default login
    const adc = await p.cli(['auth', 'application-default', 'login'])
    expect(adc.code).toBe(2)
    expect(adc.stderr).toContain("Application Default Credentials are Google's")
    expect(adc.stderr).toContain('\n  postern metadata-server\n')
    // $ postern init
    const init = await p.cli(['init'])
    expect(init.code).toBe(2)
    expect(init.stderr).toContain("no 'init'")
    expect(init.stderr).toContain('\n  postern auth login\n')
    // $ postern beta run services list — how gcloud first shipped the proxy.
    const beta = await p.cli(['beta', 'run', 'services', 'list'])
    expect(beta.code).toBe(2)
    expect(beta.stderr).toBe("ERROR: postern has no 'beta' or 'run' group: gcloud's 'beta run services …' commands are 'postern services …' here. Did you mean:\n  postern services list\n")
    // Nothing was created on the way.
    expect(await listed()).toBe(before)
  })

  it('a service may be named by its full resource name, as gcloud takes it; a pasted service URL is refused with the name to give', async () => {
    // $ postern services describe projects/my-project/locations/us-central1/services/hello --format='value(uri)'
    for (const full of ['projects/my-project/services/hello', 'projects/my-project/locations/us-central1/services/hello']) {
      expect(await p.cli(['services', 'describe', full, '--format=value(uri)'])).toMatchObject({ code: 0, stdout: `${uri}\n` })
    }
    const policy = await p.cli(['services', 'get-iam-policy', 'projects/my-project/services/hello', '--format=json'])
    expect(policy.code, policy.stderr).toBe(0)
    expect(JSON.parse(policy.stdout).bindings[0].members).toContain('user:ann@example.com')
    // $ postern services proxy http://hello.my-project.localhost:PORT
    const pasted = await p.cli(['services', 'proxy', uri])
    expect(pasted.code).toBe(2)
    expect(pasted.stderr).toBe(`ERROR: '${uri}' is a URL; give the service's name, as with gcloud. Did you mean hello --project my-project?\n`)
    expect((await p.cli(['services', 'describe', uri])).stderr).toContain('Did you mean hello --project my-project?')
    // A full name names its project: none need be configured, nor for the advice on a URL.
    expect((await p.cli(['config', 'unset', 'project'])).code).toBe(0)
    try {
      expect(await p.cli(['services', 'describe', 'projects/my-project/services/hello', '--format=value(uri)'])).toMatchObject({ code: 0, stdout: `${uri}\n` })
      expect((await p.cli(['services', 'get-iam-policy', 'projects/my-project/services/hello', '--format=json'])).code).toBe(0)
      expect((await p.cli(['services', 'describe', uri])).stderr).toContain('Did you mean hello --project my-project?')
      expect((await p.cli(['services', 'describe', 'hello'])).stderr).toContain('No project: pass --project')
    } finally {
      expect((await p.cli(['config', 'set', 'project', 'my-project'])).code).toBe(0)
    }
  })

  it('a flag that takes one value, given twice, is a usage error rather than the last one silently', async () => {
    const twice = await p.cli(['services', 'add-iam-policy-binding', 'hello', '--member=user:ann@example.com', '--member=user:bob@example.com', '--role=roles/run.invoker'])
    expect(twice.code).toBe(2)
    expect(twice.stderr).toContain("--member was given twice ('user:ann@example.com', 'user:bob@example.com')")
    const roles = await p.cli(['services', 'remove-iam-policy-binding', 'hello', '--member=user:ann@example.com', '--role=roles/run.invoker', '--role', 'roles/run.admin'])
    expect(roles.code).toBe(2)
    expect(roles.stderr).toContain('--role was given twice')
  })

  it("add/remove-iam-policy-binding on a policy with a conditional binding need --condition (None too), --condition-from-file or --all, as gcloud's without a terminal", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'postern-condition-'))
    const file = join(dir, 'condition.yaml')
    writeFileSync(file, `expression: "request.time < timestamp('2030-01-01T00:00:00Z')"\ntitle: until 2030\n`)
    const bindings = async (args: string[]) => (JSON.parse((await p.cli([...args, '--format=json'])).stdout).bindings as { members: string[]; condition?: { title: string } }[]).map((b) => `${b.condition?.title ?? 'None'}: ${b.members.join(',')}`)
    const sa = 'cond-robot@my-project.iam.postern.internal'
    for (const args of [['services', 'create', 'cond', '--upstream=http://127.0.0.1:9000'], ['iam', 'service-accounts', 'create', 'cond-robot']]) expect((await p.cli(args)).code).toBe(0)
    const add = (who: string, ...flags: string[]) => p.cli(['services', 'add-iam-policy-binding', 'cond', `--member=${who}`, '--role=roles/run.invoker', '--format=none', ...flags])
    const remove = (...flags: string[]) => p.cli(['services', 'remove-iam-policy-binding', 'cond', '--member=user:ann@example.com', '--role=roles/run.invoker', '--format=none', ...flags])
    // No condition anywhere yet: neither flag is needed; --condition-from-file adds a conditional binding.
    expect((await add('user:ann@example.com')).code).toBe(0)
    expect((await add('user:ann@example.com', `--condition-from-file=${file}`)).code).toBe(0)
    // Now an addition or a removal without a condition is refused, a dry run too, and nothing is written.
    const adding = 'ERROR: Adding a binding without specifying a condition to a policy containing conditions is prohibited in non-interactive mode. Run the same command again and specify the condition with --condition: --condition=None adds the binding without one'
    expect(await add('group:eng@example.com')).toMatchObject({ code: 1, stderr: expect.stringContaining(adding) })
    expect(await add('group:eng@example.com', '--dry-run')).toMatchObject({ code: 1, stdout: '', stderr: expect.stringContaining(adding) })
    expect(await remove()).toMatchObject({ code: 1, stderr: expect.stringContaining('ERROR: Removing a binding without specifying a condition from a policy containing conditions is prohibited in non-interactive mode. Run the command again with --condition=None to remove a binding without condition') })
    expect(await bindings(['services', 'get-iam-policy', 'cond'])).toEqual(['None: user:ann@example.com', 'until 2030: user:ann@example.com'])
    // --condition=None names the binding without one; the file names the conditional one.
    expect((await add('group:eng@example.com', '--condition=None')).code).toBe(0)
    expect((await remove(`--condition-from-file=${file}`)).code).toBe(0)
    expect(await bindings(['services', 'get-iam-policy', 'cond'])).toEqual(['None: group:eng@example.com,user:ann@example.com'])
    // Every resource kind's commands are the same code: a service account's too.
    const onSa = ['iam', 'service-accounts', 'add-iam-policy-binding', sa, '--member=user:ann@example.com', '--role=roles/iam.serviceAccountTokenCreator', '--format=none']
    expect((await p.cli([...onSa, `--condition-from-file=${file}`])).code).toBe(0)
    expect(await p.cli(onSa)).toMatchObject({ code: 1, stderr: expect.stringContaining(adding) })
    // The two ways of naming a condition exclude each other, and --all excludes both; a file that
    // is not a condition is named with what it must hold.
    expect(await add('user:ann@example.com', `--condition-from-file=${file}`, '--condition=None')).toMatchObject({ code: 2, stderr: expect.stringContaining('--condition and --condition-from-file exclude each other') })
    expect(await remove(`--condition-from-file=${file}`, '--all')).toMatchObject({ code: 2, stderr: expect.stringContaining('--all and --condition-from-file exclude each other') })
    const typo = join(dir, 'typo.yaml')
    writeFileSync(typo, 'expresion: request.time < timestamp("2030-01-01T00:00:00Z")\ntitle: t\n')
    expect(await add('user:ann@example.com', `--condition-from-file=${typo}`)).toMatchObject({ code: 1, stderr: expect.stringContaining(`${typo} must hold a condition: expression: EXPR, title: TITLE and, optionally, description: TEXT; 'expresion' is none of them.`) })
  })

  it('--impersonate-service-account on any command (and the property auth/impersonate_service_account) makes its API calls as the service account, warning so', async () => {
    const sa = 'habit-robot@my-project.iam.postern.internal'
    const warning = `WARNING: This command is using service account impersonation. All API calls will be executed as [${sa}].\n`
    for (const args of [['iam', 'service-accounts', 'create', 'habit-robot'], ['services', 'create', 'imp', '--upstream=http://127.0.0.1:9000']]) expect((await p.cli(args)).code).toBe(0)
    // The owner may impersonate it (roles/owner holds the token creator's permissions); the account itself may do nothing yet.
    const refused = await p.cli(['services', 'describe', 'imp', `--impersonate-service-account=${sa}`])
    expect(refused).toMatchObject({ code: 1, stdout: '' })
    expect(refused.stderr).toBe(`${warning}ERROR: (PERMISSION_DENIED) Permission 'run.services.get' denied on resource 'projects/my-project/services/imp' for serviceAccount:${sa} (or it may not exist). A role that allows it: Run Viewer (roles/run.viewer).\n`)
    expect((await p.cli(['services', 'add-iam-policy-binding', 'imp', `--member=serviceAccount:${sa}`, '--role=roles/run.admin', '--format=none'])).code).toBe(0)
    // Every call of the command as the account: the read and the write of a policy edit; the flag before the command too.
    const grant = await p.cli(['--impersonate-service-account', sa, 'services', 'add-iam-policy-binding', 'imp', '--member=user:ann@example.com', '--role=roles/run.invoker', '--format=value(bindings.members)'])
    expect(grant).toMatchObject({ code: 0, stdout: `serviceAccount:${sa};user:ann@example.com\n`, stderr: `${warning}Updated IAM policy for service [imp].\n` })
    expect((await p.cli(['logs', 'read', '--limit=1', '--format=value(principal,method,resource)'])).stdout).toBe(`serviceAccount:${sa}\tsetIamPolicy\tprojects/my-project/services/imp\n`)
    // gcloud's property, in a configuration of its own; --verbosity=error leaves the warning out.
    const configDir = mkdtempSync(join(tmpdir(), 'postern-impersonating-'))
    cpSync(p.configDir, configDir, { recursive: true })
    expect(await p.cli(['config', 'set', 'auth/impersonate_service_account', sa], { configDir })).toMatchObject({ code: 0 })
    // The tokens printed as it too: a habitual curl -H "Authorization: Bearer $(postern auth print-identity-token)" acts as the account.
    expect(await p.cli(['auth', 'print-identity-token', `--impersonate-service-account=${sa}`])).toMatchObject({ code: 0, stderr: warning })
    expect(await p.cli(['auth', 'print-identity-token'], { configDir })).toMatchObject({ code: 0, stderr: warning })
    expect(await p.cli(['auth', 'print-access-token'], { configDir })).toMatchObject({ code: 0, stderr: warning })
    expect(await p.cli(['services', 'why', 'imp', '--verbosity=error'], { configDir })).toMatchObject({ code: 0, stderr: '', stdout: expect.stringContaining(`GRANTED: serviceAccount:${sa} holds run.routes.invoke`) })
    expect(await p.cli(['config', 'set', 'auth/impersonate_service_account', 'robot'], { configDir })).toMatchObject({ code: 2, stderr: expect.stringContaining("expected a service account's email") })
    // A caller who may not impersonate it hears which role that takes.
    const password = await createUser(p.api, 'ivy@example.com')
    const ivy = await signInUser(p, 'ivy@example.com', password)
    const denied = await p.cli(['services', 'list', `--impersonate-service-account=${sa}`], { configDir: ivy.configDir })
    expect(denied).toMatchObject({ code: 1, stdout: '' })
    expect(denied.stderr).toContain(`ERROR: (PERMISSION_DENIED) Failed to impersonate [${sa}]: the account you are signed in as needs roles/iam.serviceAccountTokenCreator on it`)
    expect(denied.stderr).toContain("'iam.serviceAccounts.getAccessToken' denied")
  })

  it('services why asks about the active account when --member is left out', async () => {
    // $ postern services why hello
    const r = await p.cli(['services', 'why', 'hello'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain('GRANTED: user:owner@example.com holds run.routes.invoke on projects/my-project/services/hello.')
  })

  it('services delete asks on a terminal; n keeps the service, --quiet and a pipe do not ask', async () => {
    expect((await p.cli(['services', 'create', 'doomed', '--upstream=http://127.0.0.1:9000'])).code).toBe(0)
    // $ postern services delete doomed      (answering n)
    const no = await onTerminal(['services', 'delete', 'doomed'], { configDir: p.configDir, input: 'n\n' })
    expect(no.output).toContain('Service [doomed] will be deleted')
    expect(no.output).toContain('Do you want to continue (Y/n)?')
    expect(no.output).toContain('Aborted by user.')
    expect(no.code).toBe(1)
    expect((await p.cli(['services', 'describe', 'doomed'])).code).toBe(0)
    // $ postern services delete doomed --quiet
    const quiet = await onTerminal(['services', 'delete', 'doomed', '--quiet'], { configDir: p.configDir, input: '' })
    expect(quiet.output).not.toContain('Do you want to continue')
    expect(quiet.code).toBe(0)
    expect((await p.cli(['services', 'describe', 'doomed'])).code).toBe(1)
    // In a script (no terminal) nothing asks.
    expect((await p.cli(['services', 'create', 'doomed', '--upstream=http://127.0.0.1:9000'])).code).toBe(0)
    const piped = await p.cli(['services', 'delete', 'doomed'])
    expect(piped).toMatchObject({ code: 0, stderr: 'Deleted service [doomed].\n' })
  })
})
