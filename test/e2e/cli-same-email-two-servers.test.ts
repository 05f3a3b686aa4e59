import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { approveDevice, startLogin } from '../support/device-login.js'
import { startPostern, type PosternProcess } from '../support/server.js'
import { posternOnPath, sh } from '../support/shell.js'
import { storedSignIn, storedSignIns } from '../support/stored-credentials.js'
import { claimsOf, token } from '../support/web-sign-in.js'

/**
 * The same person at two Posterns (a local one and the team's; two demos, both with
 * owner@example.com): one CLI, a configuration for each, and two sign-ins of the same email that
 * coexist. Each configuration uses its own server's, each token goes only to the server that
 * issued it, and revoking one leaves the other. Before, the credentials were keyed by email
 * alone: the second sign-in replaced the first server's.
 */
describe('the same email signed in at two Posterns', () => {
  const owner = 'owner@example.com'
  let a: PosternProcess
  let b: PosternProcess
  /** The CLI of this machine: A's first start signed it in (configuration default). */
  let configDir: string
  const bin = posternOnPath()
  const $ = (line: string) => sh(line, { configDir, binDir: bin })
  const names = async (line: string) => {
    const r = await $(line)
    expect(r.code, `${line}\n${r.stderr}`).toBe(0)
    return r.stdout.trim()
  }

  beforeAll(async () => {
    ;[a, b] = await Promise.all([startPostern(), startPostern()])
    configDir = a.configDir
    expect((await a.cli(['services', 'create', 'only-on-a', '--upstream=http://127.0.0.1:9000'])).code).toBe(0)
    expect((await b.cli(['services', 'create', 'only-on-b', '--upstream=http://127.0.0.1:9000'])).code).toBe(0)
  })
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()])
  })

  it('a second configuration signs in at B as the same email; both work, alternately, each with its own server’s tokens', async () => {
    // $ postern config configurations create team-b && postern config set server B && postern auth login --no-browser
    expect((await $('postern config configurations create team-b')).code).toBe(0)
    expect((await $(`postern config set server ${b.controlUrl}`)).code).toBe(0)
    const login = startLogin(['--no-browser'], { configDir })
    const { code } = await login.prompt
    await approveDevice(b.controlUrl, { email: owner, password: b.ownerPassword!, code })
    const done = await login.done
    expect(done.code, done.stderr).toBe(0)
    expect(done.stderr).toContain(`You are now logged in as [${owner}].`)

    for (let round = 0; round < 2; round++) {
      expect(await names('postern services list --format="value(name)"')).toBe('projects/my-project/services/only-on-b')
      expect(await names('postern --configuration default services list --format="value(name)"')).toBe('projects/my-project/services/only-on-a')
      expect((await $('postern config configurations activate default')).code).toBe(0)
      expect(await names('postern services list --format="value(name)"')).toBe('projects/my-project/services/only-on-a')
      expect(await names('postern --configuration team-b services list --format="value(name)"')).toBe('projects/my-project/services/only-on-b')
      expect((await $('postern config configurations activate team-b')).code).toBe(0)
    }

    // Each configuration's tokens are its own server's: issued by it, for it.
    const tokens = async (config: string) => ({
      access: claimsOf(await names(`postern --configuration ${config} auth print-access-token`)),
      id: claimsOf(await names(`postern --configuration ${config} auth print-identity-token`)),
    })
    const [ofA, ofB] = [await tokens('default'), await tokens('team-b')]
    expect(ofA.access).toMatchObject({ iss: a.controlUrl, aud: a.controlUrl })
    expect(ofA.id).toMatchObject({ iss: a.controlUrl, aud: 'postern-cli', email: owner })
    expect(ofB.access).toMatchObject({ iss: b.controlUrl, aud: b.controlUrl })
    expect(ofB.id).toMatchObject({ iss: b.controlUrl, aud: 'postern-cli', email: owner })
    // Two sign-ins of one email, each holding what its server issued.
    const atA = storedSignIn(configDir, owner, a.controlUrl)
    const atB = storedSignIn(configDir, owner, b.controlUrl)
    expect(storedSignIns(configDir)).toHaveLength(2)
    expect(claimsOf(atA.accessToken!)).toMatchObject({ iss: a.controlUrl })
    expect(claimsOf(atB.accessToken!)).toMatchObject({ iss: b.controlUrl })
    expect(atA.refreshToken).not.toBe(atB.refreshToken)

    // $ postern auth list   (the server tells the two rows apart; * is this configuration's)
    const list = await $('postern auth list')
    expect(list.stdout).toBe(
      [
        'Credentialed Accounts',
        `ACTIVE  ${'ACCOUNT'.padEnd(owner.length)}  SERVER`,
        `        ${owner}  ${a.controlUrl}`,
        `*       ${owner}  ${b.controlUrl}`,
        '',
        'To set the active account, run:',
        '  $ postern config set account `ACCOUNT`',
        '',
      ].join('\n'),
    )
  })

  it('a configuration pointed at a server where the account has no sign-in sends nothing, and names the configuration to go back to', async () => {
    // team-b is active; the default configuration talks to A as the owner.
    expect((await $('postern config configurations create elsewhere')).code).toBe(0)
    expect((await $(`postern config set account ${owner}`)).code).toBe(0)
    expect((await $('postern config set server http://127.0.0.1:9')).code).toBe(0)
    expect((await $('postern config set project my-project')).code).toBe(0)
    const r = await $('postern services list')
    expect(r.code).toBe(1)
    expect(r.stderr).toContain(`The credentials of ${owner} are from the Posterns at ${a.controlUrl} and ${b.controlUrl}, and the CLI now talks to http://127.0.0.1:9: sign in there (postern auth login), or go back (postern config configurations activate default, or --configuration default for one command; or postern config configurations activate team-b, or --configuration team-b for one command). Nothing was sent.`)
    expect((await $('postern config configurations activate team-b')).code).toBe(0)
    expect((await $('postern config configurations delete elsewhere --quiet')).code).toBe(0)
  })

  it('auth revoke, in the configuration of B, ends the sign-in at B only: A’s stays, and works', async () => {
    const [atA, atB] = [storedSignIn(configDir, owner, a.controlUrl), storedSignIn(configDir, owner, b.controlUrl)]
    const revoked = await $(`postern auth revoke ${owner}`)
    expect(revoked.code, revoked.stderr).toBe(0)
    expect(revoked.stderr).toBe(`Revoked credentials:\n - ${owner} (at ${b.controlUrl})\n`)
    // Ended at B; A's refresh token still renews at A.
    expect((await token(b.controlUrl, { grant_type: 'refresh_token', refresh_token: atB.refreshToken!, client_id: 'postern-cli' })).body).toMatchObject({ error: 'invalid_grant' })
    expect(storedSignIns(configDir).map((s) => s.server)).toEqual([a.controlUrl])
    expect(await names('postern --configuration default services list --format="value(name)"')).toBe('projects/my-project/services/only-on-a')
    expect(storedSignIn(configDir, owner, a.controlUrl).refreshToken).toBe(atA.refreshToken)
    // B's configuration is no longer signed in, and says so rather than using A's credentials.
    const atBNow = await $('postern services list')
    expect(atBNow.code).toBe(1)
    expect(atBNow.stderr).toContain('You are not signed in. Run: postern auth login')
    // With one server left, auth list is as it always was.
    expect((await $('postern --configuration default auth list')).stdout).toBe(`Credentialed Accounts\nACTIVE  ACCOUNT\n*       ${owner}\n\nTo set the active account, run:\n  $ postern config set account \`ACCOUNT\`\n`)
  })

  it('credentials written by the previous version (keyed by email) stay usable at their server, and a sign-in elsewhere joins them', async () => {
    // The file as the previous version wrote it, of A's sign-in.
    const { account, ...stored } = storedSignIn(configDir, owner, a.controlUrl)
    writeFileSync(join(configDir, 'credentials.json'), JSON.stringify({ accounts: { [account]: stored } }), { mode: 0o600 })
    expect(await names('postern --configuration default services list --format="value(name)"')).toBe('projects/my-project/services/only-on-a')
    const login = startLogin(['--no-browser'], { configDir })
    await approveDevice(b.controlUrl, { email: owner, password: b.ownerPassword!, code: (await login.prompt).code })
    expect((await login.done).code).toBe(0)
    expect(await names('postern services list --format="value(name)"')).toBe('projects/my-project/services/only-on-b')
    expect(await names('postern --configuration default services list --format="value(name)"')).toBe('projects/my-project/services/only-on-a')
    expect(JSON.parse(readFileSync(join(configDir, 'credentials.json'), 'utf8')).signIns.map((s: { account: string; server: string }) => [s.account, s.server])).toEqual([
      [owner, a.controlUrl],
      [owner, b.controlUrl],
    ])
  })
})

/**
 * `postern serve`'s first start signs the local CLI in as the owner: now beside the same email's
 * sign-in at another Postern. When the active configuration talks to another server, it is left
 * as it is, and the demo says what to type before its curl line can work.
 */
describe('a first start beside a CLI signed in elsewhere as the same email', () => {
  const owner = 'owner@example.com'
  let a: PosternProcess
  const started: PosternProcess[] = []
  afterAll(async () => {
    await Promise.all([a?.stop(), ...started.map((p) => p.stop())])
  })

  it('signs a fresh configuration in at the new server, keeping the sign-in at the other', async () => {
    a = await startPostern()
    expect((await a.cli(['config', 'configurations', 'create', 'demo'])).code).toBe(0)
    const c = await startPostern({ configDir: a.configDir, args: ['--demo'] })
    started.push(c)
    expect(c.output()).toContain(`is signed in as ${owner}.`)
    expect(c.output()).toMatch(/try, in another shell:\n(?: {2}.*\n)* {2}curl /)
    expect(c.output()).not.toContain('config configurations create')
    const list = (config: string) => a.cli(['--configuration', config, 'services', 'list', '--format=value(name)'])
    expect((await list('demo')).stdout).toBe('projects/my-project/services/hello\n')
    expect((await list('default')).stdout).toBe('')
    expect((await list('default')).code).toBe(0)
    expect(storedSignIns(a.configDir).map((s) => [s.account, s.server])).toEqual([
      [owner, a.controlUrl],
      [owner, c.controlUrl],
    ])
  })

  it('leaves a configuration that talks to another server alone, and the demo prints what to type before curl', async () => {
    expect((await a.cli(['config', 'configurations', 'activate', 'default'])).code).toBe(0)
    const before = readFileSync(join(a.configDir, 'credentials.json'), 'utf8')
    const d = await startPostern({ configDir: a.configDir, args: ['--demo'] })
    started.push(d)
    expect(d.output()).toContain(`is not signed in here: its configuration [default] talks to ${a.controlUrl}, and is left as it is.`)
    expect(d.output()).not.toContain(`is signed in as ${owner}`)
    const port = new URL(d.controlUrl).port
    expect(d.output()).toMatch(new RegExp(`try, in another shell \\(postern auth login as ${owner}, with the password above\\):\\n(?: {2}export PATH.*\\n)? {2}postern config configurations create local-${port}\\n {2}postern config set server ${d.controlUrl.replace(/\./g, '\\.')}\\n {2}postern auth login\\n {2}curl `))
    expect(readFileSync(join(a.configDir, 'credentials.json'), 'utf8')).toBe(before)
    expect((await a.cli(['services', 'list', '--format=value(name)'])).code).toBe(0)
  })
})
