import { generateKeyPairSync, sign } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startPostern, type PosternProcess } from '../support/server.js'
import { rewriteSignIns, storedSignIn } from '../support/stored-credentials.js'

/**
 * The CLI holds tokens the server no longer takes, though by this machine's clock they are good
 * for an hour yet: signed by a key a restored database lacks, or judged by a clock minutes slow.
 * A call the server refuses for its token is made once more with a fresh one (as google-auth's
 * sessions do), and the ID token cached with it is dropped too, so print-identity-token prints a
 * new one rather than the same dead token again and again.
 */
describe('the CLI with cached tokens the server refuses', () => {
  let p: PosternProcess
  beforeAll(async () => {
    p = await startPostern()
  })
  afterAll(async () => {
    await p?.stop()
  })

  /** The same claims under a key this Postern never had, with the kid of one it has: refused as a bad signature. */
  const resigned = (token: string) => {
    const [header, payload] = token.split('.') as [string, string]
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
    return `${header}.${payload}.${sign('sha256', Buffer.from(`${header}.${payload}`), privateKey).toString('base64url')}`
  }

  it('refreshes once on a 401 and carries on; the next ID token printed is a new, good one', async () => {
    expect((await p.cli(['services', 'list'])).code).toBe(0)
    const before = storedSignIn(p.configDir, 'owner@example.com')
    const inAnHour = Date.now() + 3_600_000
    rewriteSignIns(p.configDir, (s) => ({ ...s, accessToken: resigned(before.accessToken!), accessTokenExpiry: inAnHour, idToken: resigned(before.idToken!), idTokenExpiry: inAnHour }))
    const dead = storedSignIn(p.configDir, 'owner@example.com').idToken!

    const created = await p.cli(['services', 'create', 'after-refusal', '--upstream', 'http://127.0.0.1:9'])
    expect(created.code, created.stderr).toBe(0)
    const printed = (await p.cli(['auth', 'print-identity-token'])).stdout.trim()
    expect(printed).not.toBe(dead)
    const userinfo = await fetch(`${p.controlUrl}/oauth2/userinfo`, { headers: { authorization: `Bearer ${storedSignIn(p.configDir, 'owner@example.com').accessToken}` } })
    expect(userinfo.status).toBe(200)
  })
})
