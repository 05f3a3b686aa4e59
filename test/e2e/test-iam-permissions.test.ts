import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startPostern, type PosternProcess } from '../support/server.js'
import { createUser, signInUser } from '../support/sign-in.js'

type Answer = { permissions?: string[]; error?: { status: string; message: string } }

const CONSOLE = fileURLToPath(new URL('../../console/src', import.meta.url))

/**
 * Every `usePermissions(paths.KIND(…), [...])` the console makes, read from its source so that a
 * permission it starts asking about is covered here without anyone copying it.
 */
function consoleQuestions(): { file: string; kind: string; permissions: string[] }[] {
  const found: { file: string; kind: string; permissions: string[] }[] = []
  const walk = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]))
  for (const file of walk(CONSOLE).filter((f) => /\.tsx?$/.test(f))) {
    const text = readFileSync(file, 'utf8')
    for (const m of text.matchAll(/usePermissions(?:State)?\((\w+(?:\.\w+)?)(?:\([^)]*\))?,\s*\[([^\]]*)\]\)/g)) {
      // `usePermissions(resourcePath, …)`: the kind is where that variable is set.
      const kind = m[1]!.startsWith('paths.') ? m[1]!.slice('paths.'.length) : /const \w+ = paths\.(\w+)\(/.exec(text)?.[1]
      found.push({ file, kind: kind ?? '?', permissions: [...m[2]!.matchAll(/'([^']+)'/g)].map((p) => p[1]!) })
    }
  }
  return found
}

/**
 * testIamPermissions answers only about permissions that are checked on the resource asked
 * about or on one below it (DESIGN §5: every call is authorized on its own resource). Any other
 * is 400 INVALID_ARGUMENT, as Google's "Permission X is not valid for this resource": it was
 * answered as held, and the call it stands for was refused (checked on organizations/local).
 */
describe('testIamPermissions answers only for permissions checked on that kind of resource', () => {
  let p: PosternProcess
  let projectOwner: string

  beforeAll(async () => {
    p = await startPostern()
    await createUser(p, 'po@example.com', 'po-password-123')
    expect((await p.cli(['projects', 'add-iam-policy-binding', 'my-project', '--member=user:po@example.com', '--role=roles/owner'])).code).toBe(0)
    expect((await p.cli(['services', 'create', 'hello', '--upstream=http://127.0.0.1:9'])).code).toBe(0)
    expect((await p.api('POST', '/v1/projects/my-project/serviceAccounts', { accountId: 'robot-account' })).status).toBe(200)
    projectOwner = (await signInUser(p, 'po@example.com', 'po-password-123')).accessToken
  })
  afterAll(() => p?.stop())

  const ask = (path: string, permissions: string[], token = projectOwner) => p.api<Answer>('POST', `${path}:testIamPermissions`, { permissions }, token)
  const robot = '/v1/projects/my-project/serviceAccounts/robot-account@my-project.iam.postern.internal'

  it.each([
    ['/v1/projects/my-project', 'postern.users.update', 'organizations/local'],
    ['/v1/projects/my-project', 'resourcemanager.organizations.setIamPolicy', 'organizations/local'],
    ['/v1/projects/my-project', 'resourcemanager.projects.create', 'organizations/local'],
    ['/v2/projects/my-project/services/hello', 'postern.users.update', 'organizations/local'],
    ['/v2/projects/my-project/services/hello', 'resourcemanager.projects.delete', 'projects/my-project'],
    ['/v2/projects/my-project/services/hello', 'iam.serviceAccountKeys.create', 'a service account'],
    ['/v2/projects/my-project/services/hello', 'run.services.create', 'projects/my-project'],
    [robot, 'run.routes.invoke', 'a service'],
    [robot, 'iam.serviceAccounts.create', 'projects/my-project'],
  ])('on %s, %s is 400 saying where it is checked (%s)', async (path, permission, where) => {
    const r = await ask(path, [permission])
    expect(r.status).toBe(400)
    expect(r.body.error?.status).toBe('INVALID_ARGUMENT')
    expect(r.body.error?.message).toContain(`Permission '${permission}' is not valid for this resource`)
    expect(r.body.error?.message).toContain(`checked on ${where}`)
  })

  it('the calls of the brief as asked: all three refused at once, not answered as held', async () => {
    const project = await ask('/v1/projects/my-project', ['postern.users.update', 'resourcemanager.organizations.setIamPolicy', 'resourcemanager.projects.create'])
    expect(project.status).toBe(400)
    const service = await ask('/v2/projects/my-project/services/hello', ['postern.users.update', 'resourcemanager.projects.delete', 'iam.serviceAccountKeys.create'])
    expect(service.status).toBe(400)
    // And the real call is indeed refused for the project's owner.
    expect((await p.api('PATCH', '/v1/users/po@example.com', { displayName: 'x' }, projectOwner)).status).toBe(403)
  })

  it('a project answers for what is checked on it and below it: its services and service accounts', async () => {
    const asked = ['resourcemanager.projects.delete', 'run.services.create', 'run.services.get', 'run.routes.invoke', 'iam.serviceAccounts.create', 'iam.serviceAccountKeys.list']
    const r = await ask('/v1/projects/my-project', asked)
    expect(r.status).toBe(200)
    expect(r.body.permissions).toEqual(asked)
  })

  it('the organization answers for every permission; its owner holds them all', async () => {
    const roles = await p.api<{ roles: { name: string; includedPermissions: string[] }[] }>('GET', '/v1/roles')
    const all = roles.body.roles.find((r) => r.name === 'roles/owner')!.includedPermissions
    const r = await ask('/v1/organizations/local', all, await p.ownerToken())
    expect(r.status).toBe(200)
    expect(r.body.permissions).toEqual(all)
  })

  it('every permission the console asks about is accepted where it asks, and answered as held for the owner', async () => {
    const questions = consoleQuestions()
    expect(questions.length).toBeGreaterThanOrEqual(5)
    expect(new Set(questions.map((q) => q.kind))).toEqual(new Set(['organization', 'project', 'service', 'serviceAccount']))
    const path: Record<string, string> = {
      organization: '/v1/organizations/local',
      project: '/v1/projects/my-project',
      service: '/v2/projects/my-project/services/hello',
      serviceAccount: robot,
    }
    for (const q of questions) {
      expect(path[q.kind], `${q.file}: usePermissions on '${q.kind}'`).toBeDefined()
      const r = await ask(path[q.kind]!, q.permissions, await p.ownerToken())
      expect([r.status, r.body], q.file).toEqual([200, { permissions: q.permissions }])
    }
  })
})
