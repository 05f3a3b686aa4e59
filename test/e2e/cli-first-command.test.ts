import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { runCli } from '../support/cli.js'
import { approveDevice, startLogin } from '../support/device-login.js'
import { startPostern, type PosternProcess } from '../support/server.js'

/**
 * A newcomer's first commands on a machine with no CLI configuration. The CLI used to say
 * "No project: pass --project …" first, then, with --project, that it was not signed in; now the
 * sign-in comes first, as gcloud reports the missing account first, since signing in also sets
 * the project (the README's `auth login`). An empty value for a global flag is a usage error.
 */
describe('the first command on an empty configuration', () => {
  let p: PosternProcess | undefined
  afterAll(async () => {
    await p?.stop()
  })
  const fresh = () => mkdtempSync(join(tmpdir(), 'postern-fresh-cli-'))

  it('says to sign in before asking for a project; after auth login, the command works as first typed', async () => {
    p = await startPostern()
    const configDir = fresh()
    expect((await runCli(['config', 'set', 'server', p.controlUrl], { configDir })).code).toBe(0)
    const first = await runCli(['services', 'list'], { configDir })
    expect(first).toMatchObject({ code: 1, stderr: 'ERROR: You are not signed in. Run: postern auth login\n' })

    // $ postern auth login --no-browser   (the owner can open one project: it becomes the current one)
    const login = startLogin(['--no-browser'], { configDir })
    await approveDevice(p.controlUrl, { email: 'owner@example.com', password: p.ownerPassword!, code: (await login.prompt).code })
    const done = await login.done
    expect(done.code, done.stderr).toBe(0)
    expect(done.stderr).toContain('Your current project is [my-project]')
    expect(await runCli(['services', 'list'], { configDir })).toMatchObject({ code: 0 })

    // Signed in with no project (unset by hand): now the project is what is missing.
    expect((await runCli(['config', 'unset', 'project'], { configDir })).code).toBe(0)
    expect(await runCli(['services', 'list'], { configDir })).toMatchObject({ code: 1, stderr: 'ERROR: No project: pass --project or run: postern config set project PROJECT_ID\n' })
  })

  it('an empty --project, --configuration or --impersonate-service-account is a usage error (exit 2), as an empty --format or --limit is', async () => {
    const configDir = fresh()
    const project = await runCli(['services', 'list', '--project='], { configDir })
    expect(project).toMatchObject({ code: 2, stderr: "ERROR: --project needs a value, e.g. --project=my-project; to use the configuration's project (postern config get project), leave the flag out.\n" })
    expect(await runCli(['--project', '', 'services', 'describe', 'hello'], { configDir })).toMatchObject({ code: 2 })
    const configuration = await runCli(['--configuration=', 'services', 'list', '--project=my-project'], { configDir })
    expect(configuration).toMatchObject({ code: 2, stderr: expect.stringContaining('ERROR: --configuration needs a value') })
    for (const args of [['services', 'list', '--impersonate-service-account='], ['auth', 'print-access-token', '--impersonate-service-account=']]) {
      const r = await runCli(args, { configDir })
      expect(r, args.join(' ')).toMatchObject({ code: 2, stderr: expect.stringContaining('ERROR: --impersonate-service-account needs a value') })
    }
    // The others, for comparison: already usage errors.
    for (const args of [['services', 'list', '--format='], ['services', 'list', '--limit=']]) expect((await runCli(args, { configDir })).code).toBe(2)
  })
  it("gcloud's region and zone properties, set by habit, are refused with the reason, exit 2; core/project and core/account are Postern's own", async () => {
    const configDir = fresh()
    for (const [property, why] of [['run/region', 'Postern has no regions'], ['compute/region', 'Postern has no regions'], ['compute/zone', 'Postern has no zones']] as const) {
      const r = await runCli(['config', 'set', property, 'us-central1'], { configDir })
      expect(r, property).toMatchObject({ code: 2, stderr: `ERROR: Unknown property '${property}': ${why}: a service is named by its project and name. Postern's properties: server, project, account, impersonate_service_account.\n` })
    }
    expect(await runCli(['config', 'set', 'core/project', 'my-project'], { configDir })).toMatchObject({ code: 0 })
    expect(await runCli(['config', 'set', 'core/account', 'ann@example.com', '--quiet'], { configDir })).toMatchObject({ code: 0 })
    expect(await runCli(['config', 'get', 'account'], { configDir })).toMatchObject({ code: 0, stdout: 'ann@example.com\n' })
    expect(await runCli(['config', 'set', 'foo/bar', 'x'], { configDir })).toMatchObject({ code: 2, stderr: "ERROR: Unknown property 'foo/bar'; one of: server, project, account, impersonate_service_account.\n" })
  })
})
