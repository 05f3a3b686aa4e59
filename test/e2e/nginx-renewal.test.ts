import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startPostern, type PosternProcess } from '../support/server.js'
import { createUser, signInUser } from '../support/sign-in.js'
import { startUpstream } from '../support/upstream.js'

/**
 * The bulk renewal the nginx data plane's workers send (src/gateway/nginx/renewal.ts): one line
 * per verdict, one answer line each, in order. Asked here on a Node gateway's port, where
 * Postern's internal endpoints answer on a host that is no service (as `postern nginx-config`'s
 * nginx asks them).
 */
describe('renewing nginx verdicts in bulk', () => {
  let p: PosternProcess
  let upstream: Awaited<ReturnType<typeof startUpstream>>
  let ann: string
  let bob: string
  let cy: string
  const renew = async (body: string) => {
    const res = await request(`http://127.0.0.1:${p.gatewayPort}/_postern/nginx/renew`, { method: 'POST', body, headers: { host: 'postern-decision.invalid' } })
    return { status: res.statusCode, text: await res.body.text() }
  }

  beforeAll(async () => {
    upstream = await startUpstream()
    p = await startPostern()
    expect((await p.cli(['services', 'create', 'api', `--upstream=${upstream.url}`])).code).toBe(0)
    await createUser(p, 'ann@example.com', 'ann-password-123')
    await createUser(p, 'bob@example.com', 'bob-password-123')
    await createUser(p, 'cy+ops@example.com', 'cy-password-12345')
    expect((await p.cli(['services', 'add-iam-policy-binding', 'api', '--member=user:ann@example.com', '--role=roles/run.invoker'])).code).toBe(0)
    expect((await p.cli(['services', 'add-iam-policy-binding', 'api', '--member=user:cy+ops@example.com', '--role=roles/run.invoker'])).code).toBe(0)
    ann = (await signInUser(p, 'ann@example.com', 'ann-password-123')).idToken
    bob = (await signInUser(p, 'bob@example.com', 'bob-password-123')).idToken
    cy = (await signInUser(p, 'cy+ops@example.com', 'cy-password-12345')).idToken
  })
  afterAll(async () => {
    await Promise.all([p?.stop(), upstream?.close()])
  })

  it('answers each line in order: allow with the verdict, or refuse', async () => {
    const host = `api.my-project.localhost:${p.gatewayPort}`
    const lines = [`GET\t${host}\tBearer ${ann}`, `GET\t${host}\tBearer ${bob}`, `GET\tnowhere.my-project.localhost\tBearer ${ann}`, 'not a line', `GET\t${host}\tBearer ${ann}\textra`, `POST\t${host}\tBearer ${ann}`]
    const { status, text } = await renew(lines.join('\n'))
    expect(status).toBe(200)
    const answers = text.split('\n').map((l) => l.split('\t'))
    expect(answers.map((a) => a[0])).toEqual(['allow', 'refuse', 'refuse', 'refuse', 'refuse', 'allow'])
    const [, ms, upstreamBlock, basePath, upstreamHost, timeout, resource, principal, email, assertion, authorization] = answers[0]!.map(decodeURIComponent)
    expect(Number(ms)).toBeGreaterThan(0)
    expect(Number(ms)).toBeLessThanOrEqual(500)
    expect(upstreamBlock).toMatch(/^http:\/\/postern_/)
    expect({ basePath, upstreamHost, timeout, resource, principal, email }).toEqual({ basePath: '', upstreamHost: new URL(upstream.url).host, timeout: '300', resource: 'projects/my-project/services/api', principal: 'user:ann@example.com', email: 'ann@example.com' })
    expect(assertion!.split('.')).toHaveLength(3)
    expect(authorization).toBe(`Bearer ${ann.split('.').slice(0, 2).join('.')}.SIGNATURE_REMOVED_BY_POSTERN`)
  })

  it('percent-encodes a field only when it holds a tab, a line break, % or +', async () => {
    const { text } = await renew(`GET\tapi.my-project.localhost:${p.gatewayPort}\tBearer ${cy}`)
    const [verdict, , , , , , , principal, email, assertion, authorization] = text.split('\t')
    expect(verdict).toBe('allow')
    expect({ principal, email }).toEqual({ principal: encodeURIComponent('user:cy+ops@example.com'), email: encodeURIComponent('cy+ops@example.com') })
    expect(assertion).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/)
    expect(authorization).toBe(`Bearer ${cy.split('.').slice(0, 2).join('.')}.SIGNATURE_REMOVED_BY_POSTERN`)
  })

  it('refuses a renewal that is not a POST or is too large, and answers an empty one with nothing', async () => {
    const get = await request(`http://127.0.0.1:${p.gatewayPort}/_postern/nginx/renew`, { headers: { host: 'postern-decision.invalid' } })
    expect(get.statusCode).toBe(400)
    await get.body.dump()
    expect(await renew('')).toEqual({ status: 200, text: '' })
    const huge = await renew('x'.repeat(10 * 1024 * 1024)).catch((err: Error) => ({ status: 0, text: err.message }))
    expect(huge.status).not.toBe(200)
  })
})
