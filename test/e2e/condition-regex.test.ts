import { request } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startPostern, type PosternProcess } from '../support/server.js'
import { startUpstream } from '../support/upstream.js'

/**
 * A run.admin of one service writes a condition whose regular expression backtracks
 * exponentially in V8 into an allUsers binding. On a backtracking engine one request to that
 * service holds the only thread for hours and every other service with it; with RE2 the
 * condition decides at once, and patterns RE2 cannot match in linear time are refused when the
 * policy is written.
 */
describe('a condition with a catastrophic regular expression', () => {
  let p: PosternProcess
  let upstream: Awaited<ReturnType<typeof startUpstream>>
  // The longest service id there is: its whole resource name is in the pattern's class.
  const bad = `slow${'a'.repeat(45)}z`
  const status = (service: string, timeoutMs = 5_000) =>
    new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: p.gatewayPort, path: '/', headers: { host: `${service}.my-project.localhost:${p.gatewayPort}` }, timeout: timeoutMs }, (res) => {
        res.resume()
        resolve(res.statusCode ?? 0)
      })
      req.on('timeout', () => req.destroy(new Error(`no answer from ${service} within ${timeoutMs} ms`)))
      req.on('error', reject)
      req.end()
    })

  beforeAll(async () => {
    upstream = await startUpstream()
    p = await startPostern()
    for (const args of [
      ['services', 'create', 'open', `--upstream=${upstream.url}`],
      ['services', 'create', bad, `--upstream=${upstream.url}`],
      ['services', 'add-iam-policy-binding', 'open', '--member=allUsers', '--role=roles/run.invoker'],
    ]) {
      const r = await p.cli(args)
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0)
    }
  })
  afterAll(async () => {
    // SIGKILL: a server stuck in a backtracking match (what this file guards against) never runs
    // its SIGTERM handler.
    await p?.stop('SIGKILL')
    await upstream?.close()
  })

  it('is accepted, decides the bad service at once and leaves the others unaffected', async () => {
    const r = await p.cli(['services', 'add-iam-policy-binding', bad, '--member=allUsers', '--role=roles/run.invoker', "--condition=expression=resource.name.matches('^([a-z/-]+)+!$'),title=redos"])
    expect(r.code, r.stderr).toBe(0)
    expect(await status('open')).toBe(200)
    // The condition is false (no '!'), so the public grant does not apply and no token was sent.
    const [slow, open] = await Promise.all([status(bad), status('open')])
    expect(slow).toBe(401)
    expect(open).toBe(200)
    for (let i = 0; i < 20; i++) expect(await status(bad, 1_000)).toBe(401)
    expect(await status('open')).toBe(200)
  })

  it('refuses at write time what RE2 cannot match in linear time, naming the rule', async () => {
    for (const [pattern, message] of [
      ['(a)\\1', /not RE2 syntax/],
      ['^(?!projects/secret)', /not RE2 syntax/],
    ] as const) {
      const policy = { bindings: [{ role: 'roles/run.invoker', members: ['allUsers'], condition: { title: 't', expression: `resource.name.matches('${pattern.replace(/\\/g, '\\\\')}')` } }] }
      const res = await p.api<{ error: { status: string; message: string } }>('POST', `/v2/projects/my-project/services/open:setIamPolicy`, { policy })
      expect(res.status).toBe(400)
      expect(res.body.error.status).toBe('INVALID_ARGUMENT')
      expect(res.body.error.message).toMatch(message)
    }
  })
})
