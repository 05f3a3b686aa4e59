import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fuzzHttp1Connection, playHttp1, responsesIn } from '../support/h1-fuzz.js'
import { seeded } from '../support/h2-fuzz.js'
import { startPostern, type PosternProcess } from '../support/server.js'

/** Fixed, so CI runs the same connections every time; others with POSTERN_FUZZ_SEED=n. */
const SEED = Number(process.env.POSTERN_FUZZ_SEED ?? 20261206)
const CONNECTIONS = Number(process.env.POSTERN_FUZZ_CONNECTIONS ?? 500)
const AT_ONCE = 25

/** The control plane's endpoints: the API, the OpenID Provider's, the pages and the health checks. */
const PATHS = [
  '/healthz',
  '/readyz',
  '/metrics',
  '/.well-known/openid-configuration',
  '/oauth2/jwks',
  '/oauth2/token',
  '/oauth2/device/code',
  '/oauth2/revoke',
  '/oauth2/userinfo',
  '/oauth2/authorize?client_id=postern-cli&response_type=code',
  '/signin',
  '/signout',
  '/device',
  '/console/',
  '/v1/session',
  '/v1/projects',
  '/v1/projects/my-project',
  '/v1/users',
  '/v1/groups',
  '/v1/troubleshoot',
  '/v1/accessRequests',
  '/v2/projects/my-project/services',
  '/v2/projects/my-project/services/web',
  '/v2/projects/my-project/services/web:getIamPolicy',
  '/v2/projects/my-project/services/web:setIamPolicy',
] as const

/**
 * The gateway's HTTP/1.1 fuzzer (h1-fuzz.ts), aimed at the control plane's endpoints, with the
 * owner's token in most requests: framing that disagrees with itself, bodies that are junk or
 * hide a second request, headers and request lines damaged and cut. Whatever the bytes, the
 * control plane stays up, answers bad input with a 4xx in its own shape (JSON, or a page where a
 * page was asked for; never Node's bare status line, never a 5xx), and writes nothing. (No DELETE
 * is sent: seed 991019 sent an intact one with the owner's token, and the service went, rightly.
 * An intact PATCH or POST needs a body that is a valid change, which the fuzzer's are not; an
 * empty PATCH changes nothing.)
 */
describe('HTTP/1.1 fuzzing the control plane', () => {
  let p: PosternProcess
  let token: string

  beforeAll(async () => {
    p = await startPostern()
    expect((await p.cli(['services', 'create', 'web', '--upstream=http://127.0.0.1:9'])).code).toBe(0)
    token = await p.ownerToken()
  })
  afterAll(() => p?.stop())

  /** What the owner can see of what a write would change. */
  const state = async () => ({
    services: (await p.api('GET', '/v2/projects/my-project/services', undefined, token)).body,
    policy: (await p.api('POST', '/v2/projects/my-project/services/web:getIamPolicy', {}, token)).body,
    users: (await p.api('GET', '/v1/users', undefined, token)).body,
    groups: (await p.api('GET', '/v1/groups', undefined, token)).body,
    projects: (await p.api('GET', '/v1/projects', undefined, token)).body,
  })

  it(`${CONNECTIONS} connections of random requests: the control plane stays up, refuses in its own shape, and writes nothing`, async () => {
    const before = await state()
    const rand = seeded(SEED)
    const host = `127.0.0.1:${p.controlPort}`
    const alive = async () => (await fetch(`${p.controlUrl}/healthz`).catch(() => undefined))?.status === 200
    const statuses = new Map<number, number>()
    const wrong: string[] = []
    for (let sent = 0; sent < CONNECTIONS; sent += AT_ONCE) {
      const batch = Array.from({ length: AT_ONCE }, () => fuzzHttp1Connection(rand, { host, token, paths: PATHS, deletes: false }))
      await Promise.all(
        batch.map(async (packets) => {
          const answer = await playHttp1(p.controlPort, packets)
          const responses = responsesIn(answer)
          for (const r of responses) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1)
          const sentBytes = JSON.stringify(Buffer.concat(packets).toString('latin1').slice(0, 600))
          const failed = responses.find((r) => r.status >= 500)
          if (failed) wrong.push(`a ${failed.status} for ${sentBytes}:\n${answer.slice(failed.at, failed.at + 600)}`)
          const misshapen = responses.find((r) => r.status >= 400 && !/\r\ncontent-type: (application\/json|text\/html); charset=utf-8\r\n/i.test(r.head))
          if (misshapen) wrong.push(`a refusal not in the one shape for ${sentBytes}:\n${answer.slice(misshapen.at, misshapen.at + 600)}`)
        }),
      )
      expect(await alive(), `the control plane is down after connection ${sent + AT_ONCE} of seed ${SEED}`).toBe(true)
    }
    expect(wrong.slice(0, 5)).toEqual([])
    // Requests were answered, not all refused for their shape: many got their endpoint's answer.
    expect(statuses.get(200) ?? 0).toBeGreaterThan(CONNECTIONS / 10)
    expect((statuses.get(400) ?? 0) + (statuses.get(401) ?? 0)).toBeGreaterThan(CONNECTIONS / 10)
    expect(await state()).toEqual(before)
    expect(p.output()).not.toMatch(/uncaught|FATAL|Assertion|request failed/i)
  }, 240_000)
})
