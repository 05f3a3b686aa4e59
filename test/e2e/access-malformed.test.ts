import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startPostern, type PosternProcess } from '../support/server.js'

/**
 * Bad input to the access request and policy test endpoints: every answer is a 4xx in the one
 * error shape saying what is wrong — never a 5xx — and the caller is established before the body
 * is read (a stranger's large body gets 401, not 413).
 */
describe('access requests and policy tests: malformed input', () => {
  let p: PosternProcess
  let token: string
  beforeAll(async () => {
    p = await startPostern()
    token = await p.ownerToken()
    expect((await p.cli(['services', 'create', 'api', '--upstream=http://127.0.0.1:9'])).code).toBe(0)
  })
  afterAll(() => p?.stop())

  const send = async (method: string, path: string, body?: string, headers: Record<string, string> = {}) => {
    const res = await fetch(p.controlUrl + path, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers }, body })
    const text = await res.text()
    return { status: res.status, body: text ? (JSON.parse(text) as { error?: { code: number; status: string; message: string } }) : {} }
  }

  const SERVICE = '/v2/projects/my-project/services/api'
  const cases: [string, string, string | undefined, number, RegExp][] = [
    ['POST', '/v1/accessRequests', 'not json', 400, /not valid JSON/],
    ['POST', '/v1/accessRequests', '[]', 400, /must be a JSON object/],
    ['POST', '/v1/accessRequests', '{}', 400, /resource/],
    ['POST', '/v1/accessRequests', JSON.stringify({ resource: 'projects/my-project', duration: '60s', reason: 'x' }), 400, /expected projects\/PROJECT\/services\/SERVICE/],
    ['POST', '/v1/accessRequests', JSON.stringify({ resource: 'projects/my-project/services/api', duration: 3600, reason: 'x' }), 400, /duration/],
    ['POST', '/v1/accessRequests', JSON.stringify({ resource: 'projects/my-project/services/api', duration: '1h', reason: 'x' }), 400, /expected a duration in seconds such as '7200s'/],
    ['POST', '/v1/accessRequests', JSON.stringify({ resource: 'projects/my-project/services/api', duration: '99999999999s', reason: 'x' }), 400, /duration/],
    ['POST', '/v1/accessRequests', JSON.stringify({ resource: 'projects/my-project/services/api', duration: '600s', reason: 'x\u0000y' }), 400, /control characters/],
    ['POST', '/v1/accessRequests', JSON.stringify({ resource: 'projects/my-project/services/api', duration: '600s', reason: 'x', role: 'roles/nope' }), 400, /Role 'roles\/nope' is not supported/],
    ['POST', '/v1/accessRequests', JSON.stringify({ resource: 'projects/my-project/services/api', duration: '600s', reason: 'x', extra: 1 }), 400, /Unknown field 'extra'/],
    ['GET', '/v1/accessRequests?state=LOST', undefined, 400, /state must be one of PENDING, APPROVED, DENIED, EXPIRED/],
    ['GET', '/v1/accessRequests?pageSize=-1', undefined, 400, /pageSize/],
    ['GET', '/v1/accessRequests/ABC', undefined, 400, /is not an access request id/],
    ['GET', '/v1/accessRequests/aaaaaaaaaa', undefined, 404, /not found/],
    ['POST', '/v1/accessRequests/aaaaaaaaaa:approve', JSON.stringify({ duration: 'soon' }), 400, /duration/],
    ['POST', '/v1/accessRequests/aaaaaaaaaa:approve', '{}', 404, /not found/],
    ['POST', '/v1/accessRequests/aaaaaaaaaa:deny', JSON.stringify({ reason: 5 }), 400, /reason/],
    ['POST', '/v1/accessRequests/aaaaaaaaaa:wait', JSON.stringify({ timeout: '600s' }), 400, /timeout/],
    ['POST', '/v1/accessRequests/aaaaaaaaaa:wait', JSON.stringify({ timeout: '5s' }), 404, /not found/],
    ['PATCH', `${SERVICE}/accessRequestSettings`, JSON.stringify({ maxRequestDuration: '10s' }), 400, /between 1m and 7d/],
    ['PATCH', `${SERVICE}/accessRequestSettings`, JSON.stringify({ maxRequestDuration: '999999999s' }), 400, /between 1m and 7d/],
    ['PATCH', '/v2/projects/my-project/services/nope/accessRequestSettings', JSON.stringify({ maxRequestDuration: '3600s' }), 404, /not found/],
    ['POST', `${SERVICE}:setAccessTests`, JSON.stringify({ tests: 'all' }), 400, /tests/],
    ['POST', `${SERVICE}:setAccessTests`, JSON.stringify({ tests: [null] }), 400, /test 1: expected \{member, permission, expect\}/],
    ['POST', `${SERVICE}:setAccessTests`, JSON.stringify({ tests: [{ member: 'user:a@example.com', permission: '__proto__', expect: 'deny' }] }), 400, /Permission '__proto__' is not known/],
    ['POST', `${SERVICE}:setAccessTests`, JSON.stringify({ tests: [{ member: 'user:\u0430@example.com', expect: 'deny' }] }), 400, /ASCII/],
    ['POST', `${SERVICE}:setAccessTests`, JSON.stringify({ tests: Array.from({ length: 101 }, () => ({ member: 'allUsers', expect: 'deny' })) }), 400, /At most 100/],
    ['POST', '/v2/projects/my-project/services/nope:setAccessTests', JSON.stringify({ tests: [] }), 404, /not found/],
    ['POST', '/v1/projects/nope-nope:runAccessTests', '{}', 404, /not found/],
    ['POST', `${SERVICE}:simulateSetIamPolicy`, JSON.stringify({ policy: { bindings: 'x' } }), 400, /bindings must be a list/],
    ['POST', `${SERVICE}:simulateSetIamPolicy`, JSON.stringify({ policy: { bindings: [{ role: 'roles/run.invoker', members: ['bob'] }] } }), 400, /Invalid member 'bob'/],
  ]

  it('answers every bad request with a 4xx saying what is wrong', async () => {
    for (const [method, path, body, status, message] of cases) {
      const r = await send(method, path, body)
      expect(r.status, `${method} ${path} ${body ?? ''}`).toBe(status)
      expect(r.body.error?.status, `${method} ${path}`).toBeTypeOf('string')
      expect(r.body.error?.message, `${method} ${path} ${body ?? ''}`).toMatch(message)
    }
    // Nothing was filed or changed by any of it.
    expect(((await send('GET', '/v1/accessRequests')).body as { accessRequests: unknown[] }).accessRequests).toEqual([])
    expect((await send('GET', `${SERVICE}/accessRequestSettings`)).body).toEqual({ name: 'projects/my-project/services/api/accessRequestSettings', maxRequestDuration: '28800s' })
  })

  it('establishes the caller before reading the body', async () => {
    const big = 'x'.repeat(2 * 1024 * 1024)
    for (const path of ['/v1/accessRequests', `${SERVICE}:setAccessTests`, `${SERVICE}:simulateSetIamPolicy`, '/v1/accessRequests/aaaaaaaaaa:approve']) {
      const res = await fetch(p.controlUrl + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: big })
      expect(res.status, path).toBe(401)
    }
  })
})
