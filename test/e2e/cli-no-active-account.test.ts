import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { approveDevice, startLogin } from '../support/device-login.js'
import { startPostern, type PosternProcess } from '../support/server.js'
import { posternOnPath, sh } from '../support/shell.js'
import { storedSignIns } from '../support/stored-credentials.js'

/**
 * A newcomer signed in at two Posterns in one configuration (A, since gone, and B) revokes A's
 * sign-in, which unsets the active account, and points the CLI at B. The CLI used to say "You are
 * not signed in. Run: postern auth login", though B's credentials were still there: like gcloud,
 * it now says that no account is active, names the ones stored for B, and how to pick one.
 */
describe('no active account, with credentials stored for the server', () => {
  const owner = 'owner@example.com'
  let a: PosternProcess
  let b: PosternProcess
  let configDir: string
  const bin = posternOnPath()
  const $ = (line: string) => sh(line, { configDir, binDir: bin })

  beforeAll(async () => {
    ;[a, b] = await Promise.all([startPostern(), startPostern()])
    configDir = a.configDir
    // $ postern config set server B && postern auth login --no-browser   (in A's configuration)
    expect((await $(`postern config set server ${b.controlUrl}`)).code).toBe(0)
    const login = startLogin(['--no-browser'], { configDir })
    await approveDevice(b.controlUrl, { email: owner, password: b.ownerPassword!, code: (await login.prompt).code })
    const done = await login.done
    expect(done.code, done.stderr).toBe(0)
  })
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()])
  })

  it('after auth revoke at a dead server, names the account stored for this one and the command that makes it active', async () => {
    await a.stop()
    expect((await $(`postern config set server ${a.controlUrl}`)).code).toBe(0)
    const revoked = await $('postern auth revoke')
    expect(revoked.code, revoked.stderr).toBe(0)
    expect(storedSignIns(configDir).map((s) => s.server)).toEqual([b.controlUrl])
    expect((await $(`postern config set server ${b.controlUrl}`)).code).toBe(0)

    const list = await $('postern services list')
    expect(list.code).toBe(1)
    expect(list.stderr).toBe(
      [
        `ERROR: You do not currently have an active account selected. Credentials for ${b.controlUrl} are stored for:`,
        `  ${owner}`,
        `To use it, run: postern config set account ${owner}`,
        'or sign in as another: postern auth login',
        '',
      ].join('\n'),
    )
    expect((await $('postern auth print-identity-token')).stderr).toContain(`To use it, run: postern config set account ${owner}\n`)

    // The command it names works as typed.
    expect((await $(`postern config set account ${owner}`)).code).toBe(0)
    const again = await $('postern services list --format="value(name)"')
    expect(again.code, again.stderr).toBe(0)
  })

  it('with no credentials for the server at all, still says to sign in', async () => {
    expect((await $(`postern config set server ${a.controlUrl}`)).code).toBe(0)
    expect((await $('postern config unset account')).code).toBe(0)
    const r = await $('postern services list')
    expect(r.code).toBe(1)
    expect(r.stderr).toBe('ERROR: You are not signed in. Run: postern auth login\n')
  })
})
