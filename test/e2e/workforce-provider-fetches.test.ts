import { generateKeyPairSync } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net'
import type { AddressInfo } from 'node:net'
import { SignJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from '../support/ports.js'
import { startPostern, type PosternProcess } from '../support/server.js'
import { token } from '../support/web-sign-in.js'

/**
 * What Postern fetches for an identity provider, and what a caller learns of it. A provider's
 * discovery document may aim jwks_uri anywhere; Postern fetches keys only from the issuer's own
 * origin, and however a fetch fails the caller gets one answer, so no one can use Postern to tell
 * closed ports from a database or a web server on its host. And a provider that hangs is asked
 * once, however many exchanges name it at once, and not again for a few seconds.
 */
const GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange'
const ID_TOKEN = 'urn:ietf:params:oauth:token-type:id_token'
const POOL = 'fetch-pool'
const CLIENT = 'fetch-client'

let p: PosternProcess
/** One discovery document per path: /{name} is an issuer whose jwks_uri is jwksUris[name]. */
let idp: Server
let idpOrigin: string
const jwksUris: Record<string, string> = {}
const closers: (() => void)[] = []

const listenTcp = async (onConnection: (s: Socket) => void): Promise<number> => {
  const server: TcpServer = createTcpServer(onConnection)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  closers.push(() => server.close())
  return (server.address() as AddressInfo).port
}

const rogue = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey
async function exchangeAt(provider: string, issuer: string) {
  const now = Math.floor(Date.now() / 1000)
  const subjectToken = await new SignJWT({ sub: 'ann', aud: CLIENT, iat: now, exp: now + 300 }).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).setIssuer(issuer).sign(rogue)
  return token(p.controlUrl, { grant_type: GRANT, subject_token: subjectToken, subject_token_type: ID_TOKEN, audience: `//iam.postern/workforcePools/${POOL}/providers/${provider}` })
}
async function createProvider(id: string, issuer: string) {
  const r = await p.cli(['iam', 'workforce-pools', 'providers', 'create-oidc', id, '--workforce-pool', POOL, '--issuer-uri', issuer, '--client-id', CLIENT, '--attribute-mapping', 'postern.subject=assertion.sub'])
  expect(r.code, r.stderr).toBe(0)
}

beforeAll(async () => {
  p = await startPostern()
  idp = createServer((req, res) => {
    const name = /^\/([a-z-]+)\/\.well-known\/openid-configuration$/.exec(req.url ?? '')?.[1]
    if (!name || !(name in jwksUris)) return void res.writeHead(404).end()
    const issuer = `${idpOrigin}/${name}`
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ issuer, authorization_endpoint: `${issuer}/auth`, token_endpoint: `${issuer}/token`, jwks_uri: jwksUris[name], id_token_signing_alg_values_supported: ['RS256'] }))
  })
  await new Promise<void>((resolve) => idp.listen(0, '127.0.0.1', resolve))
  idpOrigin = `http://127.0.0.1:${(idp.address() as AddressInfo).port}`
  expect((await p.cli(['iam', 'workforce-pools', 'create', POOL])).code).toBe(0)
})
afterAll(async () => {
  await p?.stop()
  idp?.close()
  for (const close of closers) close()
})

describe('keys a provider names on another port of the Postern host', () => {
  it('are not fetched, and closed ports, a database, a MariaDB-like greeting and a web server all get the same answer', async () => {
    const mariadbLike = await listenTcp((s) => s.end(Buffer.from('4a0000000a352e352e352d31302e31312e362d4d617269614442', 'hex')))
    const targets: Record<string, string> = {
      'closed-port': `http://127.0.0.1:${await freePort()}/jwks`,
      postgres: 'http://127.0.0.1:5432/jwks',
      mariadb: `http://127.0.0.1:${mariadbLike}/jwks`,
      'postern-api': `${p.controlUrl}/.well-known/openid-configuration`,
      'other-host': 'https://keys.example.net/jwks',
    }
    const answers = new Map<string, string>()
    for (const [name, uri] of Object.entries(targets)) {
      jwksUris[name] = uri
      await createProvider(name, `${idpOrigin}/${name}`)
      const r = await exchangeAt(name, `${idpOrigin}/${name}`)
      answers.set(name, `${r.status} ${JSON.stringify(r.body).replaceAll(name, 'PROVIDER')}`)
    }
    const distinct = new Set(answers.values())
    expect(distinct.size, JSON.stringify(Object.fromEntries(answers), null, 2)).toBe(1)
    const [answer] = distinct
    expect(answer).toMatch(/^503 .*temporarily_unavailable.*could not fetch the identity provider/)
    // The operator's log says why.
    expect(p.output()).toContain(`jwks_uri \\"${targets.postgres}\\" is not on the issuer's origin`)
  })
})

describe('a provider whose issuer hangs', () => {
  it('is asked once by 30 concurrent exchanges, and not again for a few seconds after it failed', async () => {
    // Requests, not connections: Node's HTTP client may open a spare connection that carries none.
    const requests: string[] = []
    const hanging = await listenTcp((s) => {
      s.on('data', (d) => requests.push(String(d).split('\r\n')[0]!))
      s.on('error', () => undefined) // it never answers; Postern gives up and closes
    })
    const issuer = `http://127.0.0.1:${hanging}`
    await createProvider('hanging', issuer)
    const answers = await Promise.all(Array.from({ length: 30 }, () => exchangeAt('hanging', issuer)))
    expect(answers.map((a) => a.status)).toEqual(Array(30).fill(503))
    expect(requests).toEqual(['GET /.well-known/openid-configuration HTTP/1.1'])
    // The failure is remembered briefly: the next exchange is answered at once, without asking.
    const started = Date.now()
    expect((await exchangeAt('hanging', issuer)).status).toBe(503)
    expect(Date.now() - started).toBeLessThan(2_000)
    expect(requests).toHaveLength(1)
  }, 60_000)
})
