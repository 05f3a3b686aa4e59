import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startPostern, type PosternProcess } from '../support/server.js'
import { posternOnPath, sh } from '../support/shell.js'

/** What an outside tester found at the CLI's edges: pipes, odd names, odd values. */
describe('CLI edges', () => {
  let p: PosternProcess
  let binDir: string
  const shell = (line: string) => sh(line, { configDir: p.configDir, binDir })

  beforeAll(async () => {
    p = await startPostern()
    binDir = posternOnPath()
    const created = await p.cli(['services', 'create', 'hello', '--upstream=http://127.0.0.1:9000'])
    expect(created.code, created.stderr).toBe(0)
  })
  afterAll(() => p?.stop())

  it('a reader that closes the pipe early ends the command quietly, exit 0', async () => {
    // pipefail: the line's status is postern's own, not that of `true`.
    for (const line of ['postern services get-iam-policy hello | true', 'postern auth print-identity-token | true', 'postern services list | head -c1 >/dev/null']) {
      expect(await shell(`set -o pipefail; ${line}`), line).toMatchObject({ code: 0, stderr: '' })
    }
  })

  it("keys create - writes the key file to stdout, as gcloud does, and no file named '-'; keys list --managed-by as gcloud's", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'postern-keys-'))
    expect((await p.cli(['iam', 'service-accounts', 'create', 'ci-bot'])).code).toBe(0)
    // $ postern iam service-accounts keys create - --iam-account ci-bot@my-project.iam.postern.internal > key.json
    const r = await shell(`cd '${dir}' && postern iam service-accounts keys create - --iam-account ci-bot@my-project.iam.postern.internal`)
    expect(r.code, r.stderr).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({ type: 'service_account', client_email: 'ci-bot@my-project.iam.postern.internal' })
    expect(r.stderr).toMatch(/^created key \[\w+\] of type \[json\] as \[-\] for \[ci-bot@my-project\.iam\.postern\.internal\]\n$/)
    expect(existsSync(join(dir, '-'))).toBe(false)
    // gcloud's --managed-by: Postern's keys are all user-managed.
    // $ postern iam service-accounts keys list --iam-account ci-bot@… --managed-by=user
    const keyId = /created key \[(\w+)\]/.exec(r.stderr)![1]!
    const keys = (managedBy: string) => p.cli(['iam', 'service-accounts', 'keys', 'list', '--iam-account=ci-bot@my-project.iam.postern.internal', `--managed-by=${managedBy}`, '--format=value(keyId)'])
    for (const managedBy of ['user', 'any']) expect(await keys(managedBy), managedBy).toMatchObject({ code: 0, stdout: `${keyId}\n` })
    expect(await keys('system')).toMatchObject({ code: 0, stdout: '', stderr: 'Listed 0 items.\n' })
    expect(await keys('users')).toMatchObject({ code: 2, stdout: '', stderr: expect.stringContaining("argument 'users' is invalid. Allowed choices are any, user, system.") })
  })

  it('a control character in stored text reaches the terminal shown in caret notation, in every human-readable format; json keeps it exact', async () => {
    const description = 'a\nb\u001b[31mred\u009b2J\u007f'
    // $ postern services update hello --description $'a\nb\e[31mred…'
    expect((await p.cli(['services', 'update', 'hello', `--description=${description}`])).code).toBe(0)
    const shown = 'a b^[[31mredM-^[2J^?'
    expect((await p.cli(['services', 'list', '--format=value(description)'])).stdout).toBe(`${shown}\n`)
    expect((await p.cli(['services', 'describe', 'hello', '--format=value(description)'])).stdout).toBe(`${shown}\n`)
    expect((await p.cli(['services', 'list', '--format=table(name,description)'])).stdout).toContain(`\t${shown}\n`)
    expect(JSON.parse((await p.cli(['services', 'describe', 'hello', '--format=json'])).stdout).description).toBe(description)
  })

  it('a service name that is empty or holds a slash is refused as any bad name is, never answered with an internal route', async () => {
    const rule = 'is not a valid service name: a service name has 2–50 characters'
    // What the server answers for another bad name: the same words, the same exit code.
    expect(await p.cli(['services', 'describe', 'Bad_Name'])).toMatchObject({ code: 1, stderr: `ERROR: (INVALID_ARGUMENT) 'Bad_Name' ${rule}: lowercase letters, digits and hyphens, starting with a letter and ending with a letter or digit.\n` })
    // $ postern services describe ""
    for (const name of ['', '..', '../../v1/roles', 'projects/my-project/services/']) {
      const r = await p.cli(['services', 'describe', name])
      expect(r, name).toMatchObject({ code: 1, stdout: '', stderr: expect.stringContaining(`ERROR: (INVALID_ARGUMENT) '${name}' ${rule}`) })
      expect(r.stderr).not.toContain('endpoint')
    }
  })

  it('help COMMAND… shows the help of the command named, however deep, and refuses an unknown one as a typo elsewhere is', async () => {
    // $ postern help services list
    const list = await p.cli(['help', 'services', 'list'])
    expect(list).toMatchObject({ code: 0, stdout: expect.stringMatching(/^Usage: postern services list \[options\]\n/) })
    expect(list.stdout).toBe((await p.cli(['services', 'help', 'list'])).stdout)
    // After global flags too, as gcloud takes them: $ postern --project my-project help services list
    expect(await p.cli(['--project', 'my-project', 'help', 'services', 'list'])).toMatchObject({ code: 0, stdout: list.stdout })
    // $ postern --format=json help
    expect(await p.cli(['--format=json', 'help'])).toMatchObject({ code: 0, stdout: expect.stringMatching(/^Usage: postern \[options\] \[command\]\n/) })
    // $ postern help servces list
    expect(await p.cli(['help', 'servces', 'list'])).toMatchObject({ code: 2, stdout: '', stderr: "ERROR: unknown command 'servces'\n(Did you mean services?)\nRun 'postern --help' for usage.\n" })
    const nosuch = await p.cli(['help', 'nosuch'])
    expect(nosuch).toMatchObject({ code: 2, stdout: '', stderr: expect.stringMatching(/^ERROR: unknown command 'nosuch'\n/) })
    expect(nosuch.stderr).not.toContain('a command name is expected')
  })

  it('version prints what --version prints, as gcloud version does; with --format, one resource for scripts', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
    // $ postern version   (what --version prints, which gcloud-habits checks)
    expect(await p.cli(['version'])).toMatchObject({ code: 0, stdout: `postern ${version}\n`, stderr: '' })
    // $ postern version --format=json
    expect(JSON.parse((await p.cli(['version', '--format=json'])).stdout)).toEqual({ postern: version })
  })

  it('--verbosity, as gcloud: error and beyond leave warnings out, critical and none errors too, debug prints each HTTP request without its token, a bad level is a usage error', async () => {
    const configDir = mkdtempSync(join(tmpdir(), 'postern-config-'))
    cpSync(p.configDir, configDir, { recursive: true })
    const cli = (args: string[]) => p.cli(args, { configDir })
    // A project this account cannot open is kept with a warning (gcloud-habits), which error leaves out.
    // $ postern config set project no-such-project --verbosity=error
    expect(await cli(['config', 'set', 'project', 'no-such-project', '--verbosity=error'])).toMatchObject({ code: 0, stderr: 'Updated property [project].\n' })
    // $ postern --verbosity=debug services list
    const debug = await p.cli(['--verbosity=debug', 'services', 'list', '--format=value(name)'])
    expect(debug).toMatchObject({ code: 0, stdout: 'projects/my-project/services/hello\n' })
    expect(debug.stderr).toContain(`DEBUG: --> GET ${p.controlUrl}/v2/projects/my-project/services\nDEBUG: <-- 200 GET ${p.controlUrl}/v2/projects/my-project/services\n`)
    expect(debug.stderr).not.toMatch(/Bearer|eyJ/)
    // $ postern services list --log-http   (gcloud's flag: the same trace, at any verbosity; the token exchange's form is never shown)
    const logged = await p.cli(['services', 'list', '--log-http', '--format=value(name)'])
    expect(logged).toMatchObject({ code: 0, stdout: 'projects/my-project/services/hello\n' })
    expect(logged.stderr).toContain(`DEBUG: --> GET ${p.controlUrl}/v2/projects/my-project/services\nDEBUG: <-- 200 GET ${p.controlUrl}/v2/projects/my-project/services\n`)
    expect(logged.stderr).not.toMatch(/Bearer|eyJ|refresh_token|authorization/i)
    const exchanged = await p.cli(['--log-http', 'auth', 'print-identity-token', '--audiences=https://x.example'])
    expect(exchanged.stderr).toMatch(/^DEBUG: --> POST \S+\/oauth2\/token\n/m)
    expect(exchanged.stderr).not.toMatch(/eyJ|refresh_token/)
    // $ postern services list --verbosity=loud
    expect(await p.cli(['services', 'list', '--verbosity=loud'])).toMatchObject({ code: 2, stdout: '', stderr: expect.stringContaining('Allowed choices are debug, info, warning, error, critical, none.') })
    // critical and none leave out the error a command fails with, as gcloud's (it logs them at
    // ERROR); the exit code alone says it failed. error still says it.
    // $ postern services describe nosuch --verbosity=none
    for (const level of ['critical', 'none']) expect(await p.cli(['services', 'describe', 'nosuch', `--verbosity=${level}`]), level).toEqual({ code: 1, stdout: '', stderr: '' })
    expect(await p.cli(['services', 'describe', 'nosuch', '--verbosity=error'])).toEqual({ code: 1, stdout: '', stderr: "ERROR: (NOT_FOUND) Service 'nosuch' not found in project 'my-project'.\n" })
    // A usage error the command finds once running goes unsaid too (exit 2 all the same) …
    expect(await p.cli(['--verbosity=none', 'organizations', 'get-iam-policy', 'nope'])).toEqual({ code: 2, stdout: '', stderr: '' })
    // … but one found while the command line is parsed is said at every level, as gcloud's parser says its own.
    expect(await p.cli(['services', 'describe', '--verbosity=none'])).toMatchObject({ code: 2, stderr: expect.stringContaining("ERROR: missing required argument 'service'") })
    expect(await p.cli(['--verbosity=none', 'services', 'list', '--nosuch'])).toMatchObject({ code: 2, stderr: expect.stringContaining("ERROR: unknown option '--nosuch'") })
    // Status lines answer to --quiet, not to --verbosity, as gcloud's user output.
    // $ postern config set project my-project --verbosity=none
    expect(await cli(['config', 'set', 'project', 'my-project', '--verbosity=none'])).toEqual({ code: 0, stdout: '', stderr: 'Updated property [project].\n' })
  })

  it('--page-size and --limit, as gcloud: logs read asks for pages of --page-size up to --limit; other lists take both; a bad value is a usage error', async () => {
    // $ postern logs read --limit=2 --page-size=1   (the audit log holds the bootstrap and services.create at least)
    const paged = await p.cli(['--verbosity=debug', 'logs', 'read', '--limit=2', '--page-size=1', '--format=json'])
    expect(paged.code, paged.stderr).toBe(0)
    expect(JSON.parse(paged.stdout)).toHaveLength(2)
    expect(paged.stderr.match(/^DEBUG: --> GET \S+\/v1\/auditLogs\?pageSize=1(&|$)/gm)).toHaveLength(2)
    // The API's nextPageToken says more remain: a page that holds the last entry has none.
    const about = `/v1/auditLogs?resource=${encodeURIComponent('projects/my-project/services/hello')}`
    const n = (await p.api<{ entries: unknown[] }>('GET', `${about}&pageSize=1000`)).body.entries.length
    expect(n).toBeGreaterThan(0)
    expect((await p.api('GET', `${about}&pageSize=${n}`)).body.nextPageToken).toBeUndefined()
    if (n > 1) expect((await p.api('GET', `${about}&pageSize=${n - 1}`)).body.nextPageToken).toMatch(/^\d+$/)
    // $ postern services list --page-size=1 --limit=unlimited   (this list comes in one answer)
    expect(await p.cli(['services', 'list', '--page-size=1', '--limit=unlimited', '--format=value(metadata.name)'])).toMatchObject({ code: 0, stdout: 'hello\n' })
    expect(await p.cli(['services', 'list', '--page-size=0'])).toMatchObject({ code: 2, stdout: '', stderr: expect.stringMatching(/^ERROR: --page-size must be a positive number, not '0'\.\n/) })
  })

  it("logs read takes gcloud's list flags: --filter on each page until --limit entries pass, --sort-by, a bad filter a usage error before any call", async () => {
    // A newer entry than hello's creation, which the filter must page past.
    expect((await p.cli(['services', 'create', 'logged-later', '--upstream=http://127.0.0.1:9000'])).code).toBe(0)
    // $ postern logs read --filter='method=services.create AND resource:hello' --limit=1 --page-size=1
    const created = await p.cli(['--verbosity=debug', 'logs', 'read', '--filter=method=services.create AND resource:hello', '--limit=1', '--page-size=1', '--format=value(method,resource,outcome)'])
    expect(created).toMatchObject({ code: 0, stdout: 'services.create\tprojects/my-project/services/hello\tOK\n' })
    expect(created.stderr.match(/^DEBUG: --> GET \S+\/v1\/auditLogs\?pageSize=1(&|$)/gm)!.length).toBeGreaterThan(1)
    const sorted = await p.cli(['logs', 'read', '--sort-by=time', '--limit=unlimited', '--format=value(time)'])
    const times = sorted.stdout.trim().split('\n')
    expect(times.length).toBeGreaterThan(1)
    expect(times).toEqual([...times].sort())
    expect(await p.cli(['logs', 'read', '--filter=method=(', '--verbosity=debug'])).toMatchObject({ code: 2, stdout: '', stderr: expect.not.stringContaining('DEBUG: -->') })
  })

  it('config set refuses an empty value and a malformed project id, server or no server, exit 2', async () => {
    // A config of its own, pointed at a server that is not there: nothing can be asked of it.
    const configDir = mkdtempSync(join(tmpdir(), 'postern-config-'))
    cpSync(p.configDir, configDir, { recursive: true })
    const cli = (args: string[]) => p.cli(args, { configDir })
    expect((await cli(['config', 'set', 'server', 'http://127.0.0.1:1'])).code).toBe(0)
    const before = (await cli(['config', 'list'])).stdout
    for (const [args, stderr] of [
      // $ postern config set project ""
      [['config', 'set', 'project', ''], 'ERROR: project: a value is needed; to remove the property, run: postern config unset project\n'],
      [['config', 'set', 'account', ''], 'ERROR: account: a value is needed; to remove the property, run: postern config unset account\n'],
      [['config', 'set', 'core/project', 'Bad_Project'], "ERROR: Invalid project id 'Bad_Project': 6–30 characters, lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen.\n"],
      // A server typed as its listen address: the URL meant, where it said only "expected a URL".
      [['config', 'set', 'server', 'localhost:7070'], "ERROR: server: 'localhost:7070' names no scheme: give http://localhost:7070 (or https://…).\n"],
    ] as const) {
      expect(await cli([...args]), args.join(' ')).toMatchObject({ code: 2, stderr })
    }
    expect((await cli(['config', 'list'])).stdout).toBe(before)
    expect(await cli(['config', 'set', 'project', 'other-project'])).toMatchObject({ code: 0, stderr: 'Updated property [project].\n' })
  })

  it('a hand-edited config.json with a property of the wrong type is named with its file, not a JavaScript error', async () => {
    const configDir = mkdtempSync(join(tmpdir(), 'postern-config-'))
    writeFileSync(join(configDir, 'config.json'), '{"server": 42}\n')
    const r = await p.cli(['services', 'list'], { configDir })
    expect(r.code).toBe(1)
    expect(r.stderr).toBe(`ERROR: ${join(configDir, 'config.json')}: server must be a string; fix or remove it.\n`)
  })

  // Found by control-fuzz (seed 991018): an empty PATCH gave the service a new etag and update time.
  it('an update that changes nothing writes nothing: an empty PATCH, the resource sent back as read, labels in another order', async () => {
    const path = '/v2/projects/my-project/services/hello'
    expect((await p.api('PATCH', path, { labels: { a: '1', b: '2' } })).status).toBe(200)
    const read = (await p.api<Record<string, unknown>>('GET', path)).body
    for (const body of [{}, read, { labels: { b: '2', a: '1' } }, { description: read.description }]) {
      const res = await p.api<Record<string, unknown>>('PATCH', path, body)
      expect(res.status).toBe(200)
      expect([res.body.etag, res.body.updateTime], JSON.stringify(body)).toEqual([read.etag, read.updateTime])
    }
    expect((await p.api<Record<string, unknown>>('GET', path)).body).toEqual(read)
    // A change still is one.
    expect((await p.api<Record<string, unknown>>('PATCH', path, { description: 'changed' })).body.etag).not.toBe(read.etag)
  })

  it('a mistyped required flag is named, with the flag meant, not reported as the required one missing', async () => {
    // $ postern services add-iam-policy-binding hello --memebr=user:dev@example.com --role=roles/run.invoker
    for (const typo of [['--memebr=user:dev@example.com'], ['--memebr', 'user:dev@example.com']]) {
      const r = await p.cli(['services', 'add-iam-policy-binding', 'hello', ...typo, '--role=roles/run.invoker'])
      expect(r, typo.join(' ')).toMatchObject({ code: 2, stderr: expect.stringMatching(/^ERROR: unknown option '--memebr[^']*'\n\(Did you mean --member\?\)\n/) })
    }
    // Without a typo, the missing option is still what is said.
    expect(await p.cli(['services', 'add-iam-policy-binding', 'hello', '--role=roles/run.invoker'])).toMatchObject({ code: 2, stderr: expect.stringContaining("ERROR: required option '--member <member>' not specified") })
  })
})
