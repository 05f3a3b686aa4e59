import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startPostern, type PosternProcess } from '../support/server.js'
import { createUser, signInUser } from '../support/sign-in.js'
import { storedSignIns } from '../support/stored-credentials.js'
import { WebAgent } from '../support/web-sign-in.js'

/**
 * A new password ends the sign-ins made with the old one: the account's refresh tokens (the
 * CLI's) and its console sessions — except, for a change made in the console by the person
 * themselves, the session that made it. Changing your own password needs the current one.
 */
describe('a password change', () => {
  let p: PosternProcess
  beforeAll(async () => {
    p = await startPostern()
  })
  afterAll(() => p?.stop())

  /** The CLI's sign-in (a refresh token) and a console session of one person. */
  async function signedIn(email: string, password: string) {
    const cli = await signInUser(p, email, password)
    const console = new WebAgent(p.controlUrl)
    expect((await console.signIn(email, password)).status).toBe(303)
    return { cli, console }
  }
  const refreshToken = (configDir: string): string => {
    return storedSignIns(configDir)[0]!.refreshToken!
  }
  const refreshes = async (configDir: string) =>
    (await fetch(`${p.controlUrl}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken(configDir), client_id: 'postern-cli' }),
    })).status === 200
  const sessionAlive = async (agent: WebAgent) => (await agent.fetch('/v1/session')).status === 200
  const passwordWorks = async (email: string, password: string) => (await new WebAgent(p.controlUrl).signIn(email, password)).status === 303

  it('by an admin ends every refresh token and console session of the account', async () => {
    await createUser(p, 'ann@example.com', 'ann-old-password')
    const ann = await signedIn('ann@example.com', 'ann-old-password')
    expect(await sessionAlive(ann.console)).toBe(true)
    const r = await p.cli(['users', 'set-password', 'ann@example.com', '--password-stdin'], { stdin: 'ann-new-password' })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toContain('Every sign-in of that account has ended.')
    expect(await refreshes(ann.cli.configDir)).toBe(false)
    expect(await sessionAlive(ann.console)).toBe(false)
    expect(await passwordWorks('ann@example.com', 'ann-old-password')).toBe(false)
    expect(await passwordWorks('ann@example.com', 'ann-new-password')).toBe(true)
  })

  it('by oneself with the CLI needs the current password, then ends every sign-in, the CLI’s too', async () => {
    await createUser(p, 'bob@example.com', 'bob-old-password')
    const bob = await signedIn('bob@example.com', 'bob-old-password')
    const asBob = (stdin: string) => p.cli(['users', 'set-password', 'bob@example.com', '--password-stdin'], { configDir: bob.cli.configDir, stdin })

    const newOnly = await asBob('bob-new-password\n')
    expect(newOnly.code).toBe(2)
    expect(newOnly.stderr).toContain('current one first and the new one second')
    // The API itself refuses a self-service change without the current password…
    const bare = await p.api<{ error: { status: string; message: string } }>('POST', '/v1/users/bob@example.com:setPassword', { password: 'bob-new-password' }, bob.cli.accessToken)
    expect(bare.status).toBe(400)
    expect(bare.body.error.message).toContain('current password')
    // …and with a wrong one.
    const wrong = await asBob('not-the-password\nbob-new-password\n')
    expect(wrong.code).toBe(1)
    expect(wrong.stderr).toContain('PERMISSION_DENIED')
    expect(wrong.stderr).toContain('current password is wrong')
    expect(await passwordWorks('bob@example.com', 'bob-old-password')).toBe(true)
    expect(await refreshes(bob.cli.configDir)).toBe(true)

    const bob2 = await signedIn('bob@example.com', 'bob-old-password')
    const changed = await asBob('bob-old-password\nbob-new-password\n')
    expect(changed.code, changed.stderr).toBe(0)
    expect(changed.stderr).toContain('run postern auth login')
    expect(await refreshes(bob2.cli.configDir)).toBe(false)
    expect(await sessionAlive(bob.console)).toBe(false)
    expect(await sessionAlive(bob2.console)).toBe(false)
    expect(await passwordWorks('bob@example.com', 'bob-new-password')).toBe(true)
  })

  it('by oneself in the console keeps that session and ends every other', async () => {
    await createUser(p, 'carol@example.com', 'carol-old-password')
    const here = await signedIn('carol@example.com', 'carol-old-password')
    const elsewhere = new WebAgent(p.controlUrl)
    expect((await elsewhere.signIn('carol@example.com', 'carol-old-password')).status).toBe(303)
    const { csrfToken } = (await (await here.console.fetch('/v1/session')).json()) as { csrfToken: string }
    const res = await here.console.fetch('/v1/users/carol@example.com:setPassword', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-csrf-token': csrfToken },
      body: JSON.stringify({ currentPassword: 'carol-old-password', password: 'carol-new-password' }),
    })
    expect(res.status, await res.text()).toBe(200)
    expect(await sessionAlive(here.console)).toBe(true)
    expect(await sessionAlive(elsewhere)).toBe(false)
    expect(await refreshes(here.cli.configDir)).toBe(false)
  })
})
