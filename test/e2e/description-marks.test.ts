import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startPostern, type PosternProcess } from '../support/server.js'

const REFUSED = 'description: may not hold invisible marks that reorder or hide text'

/**
 * A description with a bidi override shows reordered in the console ('a\u202Eb.exe' reads
 * 'aexe.b'), so every description refuses the invisible marks a display name refuses, naming the
 * field; prose over lines and right-to-left text stay as they were.
 */
describe('descriptions refuse invisible marks that reorder or hide text', () => {
  let p: PosternProcess
  const SA = 'robot-account@my-project.iam.postern.internal'

  beforeAll(async () => {
    p = await startPostern()
    expect((await p.cli(['services', 'create', 'plain', '--upstream=http://127.0.0.1:9', '--description=plain'])).code).toBe(0)
    expect((await p.cli(['iam', 'service-accounts', 'create', 'robot-account', '--description=robot'])).code).toBe(0)
  })
  afterAll(() => p?.stop())

  const describeJson = async (args: string[]) => JSON.parse((await p.cli([...args, '--format=json'])).stdout) as { description?: string }

  it.each([
    ['a right-to-left override', 'invoice\u202Efdp.exe'],
    ['an isolate', 'a\u2067b\u2069'],
    ['a zero-width space', 'ad\u200Bmin'],
  ])('services create and update refuse %s, and nothing changes', async (_what, text) => {
    // $ postern services create x --description $'a\u202Eb'
    const created = await p.cli(['services', 'create', 'marked', '--upstream=http://127.0.0.1:9', `--description=${text}`])
    expect(created.code).toBe(1)
    expect(created.stderr).toContain('INVALID_ARGUMENT')
    expect(created.stderr).toContain(REFUSED)
    expect((await p.cli(['services', 'describe', 'marked'])).code).not.toBe(0)

    const updated = await p.cli(['services', 'update', 'plain', `--description=${text}`])
    expect(updated.code).toBe(1)
    expect(updated.stderr).toContain(REFUSED)
    expect((await describeJson(['services', 'describe', 'plain'])).description).toBe('plain')
  })

  it('service accounts create and update refuse a bidi override, naming the field', async () => {
    const created = await p.cli(['iam', 'service-accounts', 'create', 'marked-account', '--description=a\u202Eb'])
    expect(created.code).toBe(1)
    expect(created.stderr).toContain(REFUSED)
    expect((await p.cli(['iam', 'service-accounts', 'describe', 'marked-account@my-project.iam.postern.internal'])).code).not.toBe(0)

    const updated = await p.cli(['iam', 'service-accounts', 'update', SA, '--description=a\u2066b'])
    expect(updated.code).toBe(1)
    expect(updated.stderr).toContain(REFUSED)
    expect((await describeJson(['iam', 'service-accounts', 'describe', SA])).description).toBe('robot')
  })

  it('groups, workforce pools and their providers refuse it too', async () => {
    const group = await p.cli(['groups', 'create', 'ops@example.com', '--description=a\u202Db'])
    expect(group.code).toBe(1)
    expect(group.stderr).toContain(REFUSED)
    const pool = await p.cli(['iam', 'workforce-pools', 'create', 'marked-pool', '--description=a\u202Eb'])
    expect(pool.code).toBe(1)
    expect(pool.stderr).toContain(REFUSED)
    expect((await p.api('POST', '/v1/workforcePools?workforcePoolId=plain-pool', {})).status).toBe(200)
    const provider = await p.api<{ error: { message: string } }>('POST', '/v1/workforcePools/plain-pool/providers?workforcePoolProviderId=plain-idp', {
      description: 'a\u202Eb',
      oidc: { issuerUri: 'https://idp.example.com', clientId: 'postern' },
      attributeMapping: { 'google.subject': 'assertion.sub' },
    })
    expect(provider.status).toBe(400)
    expect(provider.body.error.message).toContain(REFUSED)
  })

  it('prose stays: lines, right-to-left text and joiners are kept as written', async () => {
    const prose = 'שלום — first line\nsecond: می\u200Cخواهم 👩\u200D💻'
    expect((await p.cli(['services', 'create', 'prose', '--upstream=http://127.0.0.1:9', `--description=${prose}`])).code).toBe(0)
    expect((await describeJson(['services', 'describe', 'prose'])).description).toBe(prose)
    expect((await p.cli(['iam', 'service-accounts', 'update', SA, `--description=${prose}`])).code).toBe(0)
    expect((await describeJson(['iam', 'service-accounts', 'describe', SA])).description).toBe(prose)
  })
})
