import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { approveDevice, startLogin } from '../support/device-login.js'
import { eventually } from '../support/eventually.js'
import { startServicesProxy } from '../support/services-proxy.js'
import { startPostern, type PosternProcess } from '../support/server.js'
import { createUser, signInUser } from '../support/sign-in.js'
import { startUpstream } from '../support/upstream.js'

/**
 * The developer's sign-in ends under a running `postern services proxy` (revoked in another
 * shell): the proxy says so once, not every few seconds, keeps trying less and less often, and
 * takes up the new sign-in as soon as the developer signs in again — no restart, and it says so.
 */
describe('postern services proxy when the sign-in ends and comes back', () => {
  let p: PosternProcess
  let upstream: Awaited<ReturnType<typeof startUpstream>>
  const email = 'dev@example.com'
  const password = 'dev-password-123'

  beforeAll(async () => {
    upstream = await startUpstream()
    // Tokens of 6 s: the proxy renews after 4.
    p = await startPostern({ args: ['--id-token-ttl', '6'] })
    expect((await p.cli(['services', 'create', 'api', `--upstream=${upstream.url}`])).code).toBe(0)
    await createUser(p, email, password)
    expect((await p.cli(['services', 'add-iam-policy-binding', 'api', `--member=user:${email}`, '--role=roles/run.invoker'])).code).toBe(0)
  })
  afterAll(async () => {
    await p?.stop()
    await upstream?.close()
  })

  it('warns once while the sign-in is gone, then carries the new one', async () => {
    const { configDir } = await signInUser(p, email, password)
    const proxy = await startServicesProxy('api', configDir)
    try {
      const ask = async () => (await fetch(proxy.url + '/')).status
      expect(await ask()).toBe(200)

      const revoked = await p.cli(['auth', 'revoke'], { configDir })
      expect(revoked.code, revoked.stderr).toBe(0)
      // The first renewal after it fails (4 s), and the next, 5 s later, fails alike: said once.
      // (The schedule after that is the unit test's: token-source.test.ts.)
      await eventually(10_000, () => proxy.output().includes('could not renew the token'), 'the proxy saying the renewal failed')
      await new Promise((r) => setTimeout(r, 6_000))
      expect(proxy.output().match(/could not renew the token/g)).toHaveLength(1)

      const login = startLogin(['--no-browser'], { configDir })
      await approveDevice(p.controlUrl, { email, password, code: (await login.prompt).code })
      expect((await login.done).code).toBe(0)
      // The next try takes it up: tries come 5, 10, 20 and then 40 s apart, so within 40 s.
      await eventually(45_000, () => proxy.output().includes('The token is renewed again'), 'the proxy saying it renewed the token', 200)
      expect(await ask()).toBe(200)
    } finally {
      proxy.process.kill('SIGTERM')
    }
  }, 150_000)

  it('a database reset under it (a new Postern on the same ports): the gateway refuses its token, and it renews at once, taking up the new sign-in', async () => {
    const first = await startPostern()
    const ports = { controlPort: first.controlPort, gatewayPort: first.gatewayPort, configDir: first.configDir }
    expect((await first.cli(['services', 'create', 'api', `--upstream=${upstream.url}`])).code).toBe(0)
    const proxy = await startServicesProxy('api', first.configDir)
    let second: PosternProcess | undefined
    try {
      const ask = async () => (await fetch(proxy.url + '/')).status
      expect(await ask()).toBe(200)
      await first.stop()
      // A new installation where the old one was: new keys, and the CLI signed in as its owner again.
      second = await startPostern({ ...ports, dataDir: mkdtempSync(join(tmpdir(), 'postern-reset-')) })
      expect((await second.cli(['services', 'create', 'api', `--upstream=${upstream.url}`])).code).toBe(0)
      // The first request carries the old token (401); the renewal it starts carries the new sign-in.
      expect(await ask()).toBe(401)
      await eventually(10_000, async () => (await ask()) === 200, 'the proxy sending a token of the new installation', 250)
    } finally {
      proxy.process.kill('SIGTERM')
      await second?.stop()
    }
  }, 90_000)
})
