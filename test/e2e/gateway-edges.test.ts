import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { request } from 'undici'
import WebSocket from 'ws'
import { b64 } from '../support/forge.js'
import { startPostern, type PosternProcess } from '../support/server.js'
import { createUser, signInUser } from '../support/sign-in.js'
import { startUpstream } from '../support/upstream.js'
import { startWsgiUpstream } from '../support/wsgi-upstream.js'

/**
 * What reaches an upstream at the gateway's edges: never a token it could replay, on any kind of
 * service; never a header that poses as Postern's or as a proxy's.
 */
describe('the gateway at its edges', () => {
  let p: PosternProcess
  let upstream: Awaited<ReturnType<typeof startUpstream>>
  let wsgi: Awaited<ReturnType<typeof startWsgiUpstream>>
  let owner: string
  let ann: string
  const host = (service: string) => `${service}.my-project.localhost:${p.gatewayPort}`
  const gw = (service: string, path: string, headers: Record<string, string | string[]> = {}) =>
    request(`http://127.0.0.1:${p.gatewayPort}${path}`, { headers: { host: host(service), ...headers } })
  /** Another issuer's JWT (an app's own): passes untouched. */
  const foreignJwt = `${b64(JSON.stringify({ alg: 'RS256', typ: 'JWT' }))}.${b64(JSON.stringify({ iss: 'https://accounts.example.com', sub: 'x', aud: 'app' }))}.${b64('signature-bytes')}`

  beforeAll(async () => {
    ;[upstream, wsgi, p] = await Promise.all([startUpstream(), startWsgiUpstream(), startPostern()])
    for (const args of [
      ['services', 'create', 'private', `--upstream=${upstream.url}`],
      ['services', 'create', 'pub', `--upstream=${upstream.url}`, '--allow-unauthenticated'],
      ['services', 'create', 'open', `--upstream=${upstream.url}`, '--no-invoker-iam-check'],
      ['services', 'create', 'wsgi', `--upstream=${wsgi.url}`],
      ['services', 'add-iam-policy-binding', 'private', '--member=user:ann@example.com', '--role=roles/run.invoker'],
      ['services', 'add-iam-policy-binding', 'wsgi', '--member=user:ann@example.com', '--role=roles/run.invoker'],
    ]) {
      const r = await p.cli(args)
      expect(r.code, r.stderr).toBe(0)
    }
    await createUser(p, 'ann@example.com', 'ann-password-123')
    ann = (await signInUser(p, 'ann@example.com', 'ann-password-123')).idToken
    owner = await p.ownerToken()
  })
  afterAll(async () => {
    await Promise.all([p?.stop(), upstream?.close(), wsgi?.close()])
  })

  describe('no upstream receives a verifiable Postern token', () => {
    it.each(['private', 'pub', 'open'])('%s: the token arrives without its signature and works nowhere', async (service) => {
      expect((await p.api('GET', '/v1/users', undefined, owner)).status).toBe(200)
      const res = await gw(service, '/echo', { authorization: `Bearer ${owner}` })
      expect(res.statusCode).toBe(200)
      await res.body.dump()
      const seen = String(upstream.seen.at(-1)!.headers.authorization)
      expect(seen).toBe(`Bearer ${owner.slice(0, owner.lastIndexOf('.'))}.SIGNATURE_REMOVED_BY_POSTERN`)
      // What the upstream holds is worth nothing at the control API.
      expect((await p.api('GET', '/v1/users', undefined, seen.slice(7))).status).toBe(401)
    })

    it('a public service gets the app’s own Authorization untouched, and X-Serverless-Authorization stripped', async () => {
      for (const own of ['Basic YWxhZGRpbjpvcGVuc2VzYW1l', `Bearer ${foreignJwt}`]) {
        const res = await gw('pub', '/echo', { authorization: own, 'x-serverless-authorization': `Bearer ${ann}` })
        expect(res.statusCode).toBe(200)
        await res.body.dump()
        const seen = upstream.seen.at(-1)!.headers
        expect(seen.authorization).toBe(own)
        expect(seen['x-serverless-authorization']).toMatch(/^Bearer [\w-]+\.[\w-]+\.SIGNATURE_REMOVED_BY_POSTERN$/)
      }
    })

    it('a private service gets the app’s own Authorization untouched beside the verified X-Serverless-Authorization', async () => {
      const res = await gw('private', '/echo', { authorization: `Bearer ${foreignJwt}`, 'x-serverless-authorization': `Bearer ${ann}` })
      expect(res.statusCode).toBe(200)
      await res.body.dump()
      const seen = upstream.seen.at(-1)!.headers
      expect(seen.authorization).toBe(`Bearer ${foreignJwt}`)
      expect(seen['x-serverless-authorization']).toMatch(/SIGNATURE_REMOVED_BY_POSTERN$/)
    })

    it('a Postern token anywhere in a token header loses its signature: several values, auth-params, padding', async () => {
      const [h, payload] = ann.split('.') as [string, string]
      const res = await gw('pub', '/echo', {
        authorization: [`Bearer ${ann}`, `Custom token="${ann}", other="${foreignJwt}"`],
        'x-serverless-authorization': `Bearer ${h}.${payload}==.${ann.split('.')[2]}`,
      })
      expect(res.statusCode).toBe(200)
      await res.body.dump()
      const seen = upstream.seen.at(-1)!
      const values = seen.rawHeaders.flatMap((v, i) => (i % 2 === 1 && /authorization/i.test(seen.rawHeaders[i - 1]!) ? [v] : []))
      expect(values).toHaveLength(3)
      for (const v of values) expect(v).not.toContain(ann.split('.')[2])
      expect(values.join(' ')).toContain(foreignJwt)
    })

    it('a WebSocket to a public service gets the token without its signature', async () => {
      const ws = new WebSocket(`ws://127.0.0.1:${p.gatewayPort}/socket`, { headers: { host: host('pub'), authorization: `Bearer ${ann}` } })
      await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject))
      ws.close()
      const seen = upstream.seen.at(-1)!
      expect(seen.url).toBe('/socket')
      expect(String(seen.headers.authorization)).toMatch(/SIGNATURE_REMOVED_BY_POSTERN$/)
    })
  })
})
