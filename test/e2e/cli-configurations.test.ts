import { statSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startPostern, type PosternProcess } from '../support/server.js'

/**
 * gcloud's named configurations (`config configurations`, `--configuration`,
 * CLOUDSDK_ACTIVE_CONFIG_NAME): one CLI switching between two real Posterns, each account sent
 * only to the server that issued it.
 */
describe('config configurations', () => {
  let a: PosternProcess
  let b: PosternProcess
  /** The CLI of A's owner, which will also hold a configuration for B. */
  let cli: PosternProcess['cli']
  const deployer = 'deployer@my-project.iam.postern.internal'

  beforeAll(async () => {
    ;[a, b] = await Promise.all([startPostern(), startPostern()])
    cli = (args, o) => a.cli(args, o)
    expect((await a.cli(['services', 'create', 'only-on-a', '--upstream=http://127.0.0.1:9000'])).code).toBe(0)
    expect((await b.cli(['services', 'create', 'only-on-b', '--upstream=http://127.0.0.1:9000'])).code).toBe(0)
    // B's service account, allowed to list B's services, with a key file for A's owner's CLI.
    expect((await b.cli(['iam', 'service-accounts', 'create', 'deployer'])).code).toBe(0)
    expect((await b.cli(['projects', 'add-iam-policy-binding', 'my-project', `--member=serviceAccount:${deployer}`, '--role=roles/run.viewer'])).code).toBe(0)
    const key = await b.cli(['iam', 'service-accounts', 'keys', 'create', join(b.configDir, 'deployer.json'), `--iam-account=${deployer}`])
    expect(key.code, key.stderr).toBe(0)
  })
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()])
  })

  const servicesList = async (o: { args?: string[]; env?: Record<string, string> } = {}) => {
    const r = await cli([...(o.args ?? []), 'services', 'list', '--format=value(name)'], { env: o.env })
    expect(r.code, r.stderr).toBe(0)
    return r.stdout.trim()
  }

  it('a second configuration signs in to another server; switching, --configuration and POSTERN_ACTIVE_CONFIG_NAME choose which one a command talks to', async () => {
    const created = await cli(['config', 'configurations', 'create', 'team-b'])
    expect(created.code, created.stderr).toBe(0)
    expect(created.stderr).toBe('Created [team-b].\nActivated [team-b].\n')
    // A new configuration has no properties: not signed in anywhere yet, though A's owner still is in default.
    expect(await cli(['config', 'get', 'account'])).toMatchObject({ code: 0, stdout: '', stderr: '(unset)\n' })
    // The server it talks to until one is set: the default, as config list shows it.
    const shown = (await cli(['config', 'list'])).stdout
    const server = (await cli(['config', 'get-value', 'server'])).stdout.trim()
    expect(server).toMatch(/^http:\/\//)
    expect(shown).toContain(`server: ${server}`)
    const activated = await cli(['auth', 'activate-service-account', '--key-file', join(b.configDir, 'deployer.json')])
    expect(activated.code, activated.stderr).toBe(0)
    expect((await cli(['config', 'set', 'project', 'my-project'])).code).toBe(0)

    expect(await servicesList()).toBe('projects/my-project/services/only-on-b')
    expect(await servicesList({ args: ['--configuration', 'default'] })).toBe('projects/my-project/services/only-on-a')
    expect(await servicesList({ env: { POSTERN_ACTIVE_CONFIG_NAME: 'default' } })).toBe('projects/my-project/services/only-on-a')
    // The flag chooses over the environment, as gcloud's does.
    expect(await servicesList({ args: ['--configuration=team-b'], env: { POSTERN_ACTIVE_CONFIG_NAME: 'default' } })).toBe('projects/my-project/services/only-on-b')

    const back = await cli(['config', 'configurations', 'activate', 'default'])
    expect(back.stderr).toBe('Activated [default].\n')
    expect(await servicesList()).toBe('projects/my-project/services/only-on-a')
    // gcloud's idiom for the account in use, and auth list's records, as gcloud's (account, status):
    // $ postern auth list --filter=status:ACTIVE --format='value(account)'
    expect(await cli(['auth', 'list', '--filter=status:ACTIVE', '--format=value(account)'])).toMatchObject({ code: 0, stdout: 'owner@example.com\n' })
    expect(await cli(['--configuration=team-b', 'auth', 'list', '--filter=status:ACTIVE', '--format=value(account)'])).toMatchObject({ code: 0, stdout: `${deployer}\n` })
    const accounts = await cli(['auth', 'list', '--sort-by=account', '--format=json'])
    expect(JSON.parse(accounts.stdout)).toMatchObject([{ account: deployer, status: '' }, { account: 'owner@example.com', status: 'ACTIVE' }])
    expect(await cli(['auth', 'list', '--filter=account~^nobody', '--limit=1'])).toMatchObject({ code: 0, stdout: '', stderr: 'Listed 0 items.\n' })

    const list = await cli(['config', 'configurations', 'list', '--format=json'])
    expect(JSON.parse(list.stdout)).toEqual([
      { name: 'default', is_active: true, properties: { server: a.controlUrl, project: 'my-project', account: 'owner@example.com' } },
      { name: 'team-b', is_active: false, properties: { server: b.controlUrl, project: 'my-project', account: deployer } },
    ])
    const listed = await cli(['config', 'list'])
    expect(listed.stderr).toContain('Your active configuration is: [default]')
    // Every file stays the owner's alone, as the rest of the CLI's.
    const dir = a.configDir
    for (const file of ['active_config', 'configurations/team-b.json']) expect(statSync(join(dir, file)).mode & 0o777, file).toBe(0o600)
    expect(statSync(join(dir, 'configurations')).mode & 0o777).toBe(0o700)
    expect(readFileSync(join(dir, 'active_config'), 'utf8')).toBe('default\n')
  })

  it('rename keeps an active configuration active; delete refuses default and the active one, and keeps the accounts signed in', async () => {
    expect((await cli(['config', 'configurations', 'create', 'scratch', '--no-activate'])).stderr).toBe('Created [scratch].\n')
    expect((await cli(['config', 'configurations', 'activate', 'scratch'])).code).toBe(0)
    const renamed = await cli(['config', 'configurations', 'rename', 'scratch', '--new-name', 'scratch-two'])
    expect(renamed.stderr).toBe('Renamed [scratch] to be [scratch-two].\n')
    const described = await cli(['config', 'configurations', 'describe', 'scratch-two', '--format=json'])
    expect(JSON.parse(described.stdout)).toEqual({ name: 'scratch-two', is_active: true, properties: {} })

    const active = await cli(['config', 'configurations', 'delete', 'scratch-two'])
    expect(active.code).toBe(1)
    expect(active.stderr).toContain('Configuration [scratch-two] is the active one, so it cannot be deleted')
    const defaults = await cli(['config', 'configurations', 'delete', 'default'])
    expect(defaults.code).toBe(2)
    expect(defaults.stderr).toContain('The default configuration cannot be deleted')

    expect((await cli(['config', 'configurations', 'activate', 'default'])).code).toBe(0)
    const deleted = await cli(['config', 'configurations', 'delete', 'scratch-two', 'team-b', '--quiet'])
    expect(deleted.code, deleted.stderr).toBe(0)
    const names = await cli(['config', 'configurations', 'list', '--format=value(name)'])
    expect(names.stdout).toBe('default\n')
    // The deleted configuration's account is still signed in (accounts belong to no configuration).
    expect((await cli(['auth', 'list', '--format=value(account)'])).stdout).toContain(deployer)
  })

  it('names that are not a configuration are refused before anything is written', async () => {
    for (const [args, code, message] of [
      [['config', 'configurations', 'create', 'Prod'], 2, 'Invalid name [Prod] for a configuration'],
      [['config', 'configurations', 'create', '../escape'], 2, 'Invalid name [../escape] for a configuration'],
      [['config', 'configurations', 'create', 'default'], 1, 'Cannot create configuration [default], it already exists.'],
      [['config', 'configurations', 'activate', 'nowhere'], 1, 'Cannot activate configuration [nowhere], it does not exist.'],
      [['--configuration', 'nowhere', 'services', 'list'], 1, 'The configuration [nowhere] does not exist'],
      [['--configuration', 'No/Such', 'services', 'list'], 2, 'Invalid name [No/Such] for a configuration'],
    ] as const) {
      const r = await cli([...args])
      expect(r.code, args.join(' ')).toBe(code)
      expect(r.stderr, args.join(' ')).toContain(message)
    }
    const env = await cli(['services', 'list'], { env: { POSTERN_ACTIVE_CONFIG_NAME: 'nowhere' } })
    expect(env.code).toBe(1)
    expect(env.stderr).toContain('The configuration [nowhere] does not exist')
    expect((await cli(['config', 'configurations', 'list', '--format=value(name)'])).stdout).not.toMatch(/Prod|escape|nowhere|No/)
  })
})
