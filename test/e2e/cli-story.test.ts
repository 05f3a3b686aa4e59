import { afterAll, describe, expect, inject, it } from 'vitest'
import { createTestDatabase } from '../support/postgres.js'
import { startPostern, type PosternProcess } from '../support/server.js'

/**
 * The README's first minutes, typed as a user would: create a developer's account and
 * a service, grant the invoker role, read it back; then restart the server and find everything still there. The same
 * transcript runs against the embedded store and against PostgreSQL.
 */
async function transcript(p: PosternProcess) {
  const user = await p.cli(['users', 'create', 'test-user@gmail.com'])
  expect(user.code, user.stderr).toBe(0)
  expect(user.stderr).toMatch(/Password \(shown once\): \S+/)
  // A script's ways: --quiet still shows it; --format=json puts it in the resource, for stdout.
  const quiet = await p.cli(['users', 'create', 'quiet-user@gmail.com', '--quiet'])
  expect(quiet.code, quiet.stderr).toBe(0)
  expect(quiet.stderr).toMatch(/^Password \(shown once\): \S+\n$/)
  const json = await p.cli(['users', 'create', 'json-user@gmail.com', '--format=json'])
  expect(json.code, json.stderr).toBe(0)
  expect(JSON.parse(json.stdout)).toMatchObject({ email: 'json-user@gmail.com', password: expect.stringMatching(/^\S{12,}$/) })
  expect(json.stderr).not.toContain('Password')

  const create = await p.cli(['services', 'create', 'hello', '--upstream', 'http://127.0.0.1:9000'])
  expect(create.code, create.stderr).toBe(0)
  expect(create.stdout).toContain(`uri: http://hello.my-project.localhost:${p.gatewayPort}`)
  expect(create.stdout).toContain('upstream: http://127.0.0.1:9000')

  const add = await p.cli(['services', 'add-iam-policy-binding', 'hello', "--member=user:test-user@gmail.com", "--role=roles/run.invoker"])
  expect(add.code, add.stderr).toBe(0)
  expect(add.stderr).toContain('Updated IAM policy for service [hello].')
  expect(add.stdout).toMatch(/role: roles\/run\.invoker\n\s+members:\n\s+- user:test-user@gmail\.com/)
  expect(add.stdout).toMatch(/etag: \S+/)

  // Adding what exists changes nothing, not even the etag.
  const again = await p.cli(['services', 'add-iam-policy-binding', 'hello', '--member=user:test-user@gmail.com', '--role=roles/run.invoker', '--format=json'])
  expect(again.code).toBe(0)
  expect(JSON.parse(again.stdout).etag).toBe(/etag: (\S+)/.exec(add.stdout)![1])

  const list = await p.cli(['services', 'list'])
  expect(list.stdout).toMatch(/hello\s+http:\/\/hello\.my-project\.localhost:\d+\s+http:\/\/127\.0\.0\.1:9000/)

  await p.restart()
  const policy = await p.cli(['services', 'get-iam-policy', 'hello', '--format=json'])
  expect(policy.code, policy.stderr).toBe(0)
  expect(JSON.parse(policy.stdout).bindings).toEqual([{ role: 'roles/run.invoker', members: ['user:test-user@gmail.com'] }])
  const describe = await p.cli(['services', 'describe', 'hello', '--format=json'])
  expect(JSON.parse(describe.stdout).upstream).toBe('http://127.0.0.1:9000')
}

describe('the README story on the embedded store', () => {
  let p: PosternProcess
  afterAll(() => p?.stop())
  it('creates, grants, and keeps everything across a restart', async () => {
    p = await startPostern()
    expect(p.ownerPassword).toMatch(/^\S{16,}$/)
    expect(p.output()).toContain('is signed in as owner@example.com')
    await transcript(p)
    expect(p.output().split('Owner password (shown once').length - 1).toBe(1) // not printed again after the restart
  })
})

describe.skipIf(!inject('postgres'))('the same CLI session on PostgreSQL', () => {
  let p: PosternProcess
  let drop: (() => Promise<void>) | undefined
  afterAll(async () => {
    await p?.stop()
    await drop?.()
  })
  it('works unchanged with --database-url', async () => {
    const db = await createTestDatabase()
    drop = db.drop
    p = await startPostern({ databaseUrl: db.url })
    await transcript(p)
  })
})
