import { describe, expect, it } from 'vitest'
import { PosternError } from '../core/errors.js'
import type { ResourceType } from './conditions.js'
import { appliesTo, checkedOn, getRole, isPermission, listRoles, narrowestRoleGranting, parsePermission, parseRole, roleGrants, rolesGranting, type Role } from './roles.js'

const permissionsOf = (role: string): readonly string[] => {
  const def = getRole(role)
  if (!def) throw new Error(`no role ${role}`)
  return def.includedPermissions
}
const allPermissions = [...new Set(listRoles().flatMap((r) => r.includedPermissions))].sort()
const isRead = (p: string) => /\.(get|list|getIamPolicy)$/.test(p)

describe('the role catalogue matches DESIGN §1', () => {
  it('lists exactly the documented roles with their titles', () => {
    expect(listRoles().map((r) => [r.name, r.title])).toEqual([
      ['roles/run.invoker', 'Run Invoker'],
      ['roles/run.viewer', 'Run Viewer'],
      ['roles/run.developer', 'Run Developer'],
      ['roles/run.admin', 'Run Admin'],
      ['roles/iam.serviceAccountTokenCreator', 'Service Account Token Creator'],
      ['roles/iam.serviceAccountAdmin', 'Service Account Admin'],
      ['roles/viewer', 'Viewer'],
      ['roles/editor', 'Editor'],
      ['roles/owner', 'Owner'],
    ])
  })

  it('run.invoker grants run.routes.invoke and nothing else', () => {
    expect(permissionsOf('roles/run.invoker')).toEqual(['run.routes.invoke'])
  })

  it('run.viewer reads services and their policies but neither sets policies nor invokes', () => {
    expect(permissionsOf('roles/run.viewer')).toEqual(['run.services.get', 'run.services.getIamPolicy', 'run.services.list'])
    expect(roleGrants('roles/run.viewer', 'run.services.setIamPolicy')).toBe(false)
    expect(roleGrants('roles/run.viewer', 'run.routes.invoke')).toBe(false)
  })

  it('run.developer is viewer + create/update/delete + invoke, without setIamPolicy', () => {
    expect([...permissionsOf('roles/run.developer')].sort()).toEqual(
      [...permissionsOf('roles/run.viewer'), 'run.services.create', 'run.services.update', 'run.services.delete', 'run.routes.invoke'].sort(),
    )
    expect(roleGrants('roles/run.developer', 'run.services.setIamPolicy')).toBe(false)
  })

  it('run.admin is developer + setIamPolicy', () => {
    expect([...permissionsOf('roles/run.admin')].sort()).toEqual([...permissionsOf('roles/run.developer'), 'run.services.setIamPolicy'].sort())
  })

  it('serviceAccountTokenCreator grants only minting ID and access tokens (getOpenIdToken, getAccessToken)', () => {
    expect(permissionsOf('roles/iam.serviceAccountTokenCreator')).toEqual(['iam.serviceAccounts.getAccessToken', 'iam.serviceAccounts.getOpenIdToken'])
  })

  it('serviceAccountAdmin manages accounts and keys, nothing outside them', () => {
    const perms = permissionsOf('roles/iam.serviceAccountAdmin')
    expect(perms).toContain('iam.serviceAccounts.create')
    expect(perms).toContain('iam.serviceAccountKeys.create')
    expect(perms.every((p) => p.startsWith('iam.serviceAccounts.') || p.startsWith('iam.serviceAccountKeys.'))).toBe(true)
    expect(perms).not.toContain('iam.serviceAccounts.getOpenIdToken')
    expect(perms).not.toContain('iam.serviceAccounts.getAccessToken')
  })

  it('viewer holds every get/list/getIamPolicy and nothing else', () => {
    const viewer = permissionsOf('roles/viewer')
    expect(viewer).toEqual(allPermissions.filter(isRead))
    for (const p of allPermissions.filter((p) => !isRead(p))) expect(roleGrants('roles/viewer', p), p).toBe(false)
  })

  it('editor is viewer + create/update/delete + invoke, without any setIamPolicy', () => {
    const editor = permissionsOf('roles/editor')
    for (const p of permissionsOf('roles/viewer')) expect(editor).toContain(p)
    expect(editor).toContain('run.routes.invoke')
    expect(editor).toContain('run.services.create')
    expect(editor).toContain('run.services.delete')
    expect(editor.filter((p) => p.endsWith('.setIamPolicy'))).toEqual([])
    expect(editor).not.toContain('iam.serviceAccounts.getOpenIdToken')
    expect(editor).not.toContain('iam.serviceAccounts.getAccessToken')
  })

  it('owner holds every permission, including setIamPolicy, projects, users and groups', () => {
    expect(permissionsOf('roles/owner')).toEqual(allPermissions)
    for (const p of ['run.services.setIamPolicy', 'resourcemanager.projects.create', 'postern.users.create', 'postern.groups.update']) {
      expect(roleGrants('roles/owner', p)).toBe(true)
    }
  })

  it('every role is a subset of owner, and rolesGranting is the inverse of includedPermissions', () => {
    for (const role of listRoles()) {
      for (const p of role.includedPermissions) {
        expect(roleGrants('roles/owner', p)).toBe(true)
        expect(rolesGranting(p).has(role.name)).toBe(true)
      }
    }
    for (const p of allPermissions) {
      for (const role of rolesGranting(p)) expect(permissionsOf(role)).toContain(p)
    }
  })

  it('permission lists are sorted and frozen', () => {
    for (const role of listRoles()) {
      expect([...role.includedPermissions]).toEqual([...role.includedPermissions].sort())
      expect(Object.isFrozen(role.includedPermissions)).toBe(true)
    }
  })
})

describe('parseRole and parsePermission', () => {
  it('accept the catalogue', () => {
    for (const role of listRoles()) expect(parseRole(role.name)).toBe(role.name)
    for (const p of allPermissions) expect(parsePermission(p)).toBe(p)
  })

  it.each([
    ['run.invoker', /Did you mean 'roles\/run.invoker'/],
    ['roles/run.Invoker', /'roles\/run.Invoker' is not supported\. Did you mean 'roles\/run.invoker'\?/],
    ['roles/run.invoker ', /not supported\. Did you mean 'roles\/run.invoker'\?/],
    ['roles/run.invokr', /not supported\. Did you mean 'roles\/run.invoker'\?/],
    ['run.inovker', /Did you mean 'roles\/run.invoker'/],
    ['invoker', /Did you mean 'roles\/run.invoker'/],
    ['Run Invoker', /Did you mean 'roles\/run.invoker'/],
    ['serviceaccountadmin', /Did you mean 'roles\/iam.serviceAccountAdmin'/],
    ['roles/unknown', /not supported.*postern iam roles list/],
    ['', /Role '' is not supported/],
    ['roles/', /not supported/],
  ])('parseRole(%j) is INVALID_ARGUMENT', (raw, message) => {
    expect(() => parseRole(raw)).toThrow(message)
    expect(() => parseRole(raw)).toThrow(PosternError)
    try {
      parseRole(raw)
    } catch (err) {
      expect((err as PosternError).status).toBe('INVALID_ARGUMENT')
    }
  })

  it('parseRole rejects non-strings', () => {
    for (const raw of [undefined, null, 1, {}, ['roles/owner']]) expect(() => parseRole(raw)).toThrow(PosternError)
  })

  it('parseRole keeps control characters out of its message', () => {
    expect(() => parseRole('roles/x\u001b[2J')).toThrow(/roles\/x\?\[2J/)
  })

  it('object prototype keys are neither permissions nor roles', () => {
    for (const key of ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf']) {
      expect(isPermission(key), key).toBe(false)
      expect(() => parsePermission(key)).toThrow(PosternError)
      expect(rolesGranting(key).size).toBe(0)
      expect(getRole(key)).toBeUndefined()
      expect(() => parseRole(key)).toThrow(PosternError)
    }
  })

  it('unknown permissions are granted by no role', () => {
    expect(rolesGranting('run.routes.fly').size).toBe(0)
    expect(roleGrants('roles/owner' as Role, 'run.routes.fly')).toBe(false)
    expect(() => parsePermission('run.routes.fly')).toThrow(/Permission 'run.routes.fly' is not known/)
    expect(() => parsePermission(7)).toThrow(PosternError)
  })
})

describe('narrowestRoleGranting', () => {
  it('names the least role to ask for', () => {
    expect(narrowestRoleGranting('run.services.create')!.name).toBe('roles/run.developer')
    expect(narrowestRoleGranting('run.routes.invoke')!.name).toBe('roles/run.invoker')
    expect(narrowestRoleGranting('postern.users.list')!.name).toBe('roles/viewer')
    expect(narrowestRoleGranting('postern.users.create')!.name).toBe('roles/owner')
  })
})

describe('where a permission applies (testIamPermissions)', () => {
  const ORG: ResourceType = 'postern.organization/Organization'
  const PROJECT: ResourceType = 'postern.project/Project'
  const SERVICE: ResourceType = 'run.postern/Service'
  const ACCOUNT: ResourceType = 'iam.postern/ServiceAccount'

  it('a permission applies where it is checked and above, never beside or below', () => {
    expect(checkedOn('run.services.get')).toBe(SERVICE)
    expect([ORG, PROJECT, SERVICE, ACCOUNT].filter((t) => appliesTo('run.services.get', t))).toEqual([ORG, PROJECT, SERVICE])
    expect(checkedOn('run.services.create')).toBe(PROJECT)
    expect([ORG, PROJECT, SERVICE, ACCOUNT].filter((t) => appliesTo('run.services.create', t))).toEqual([ORG, PROJECT])
    expect([ORG, PROJECT, SERVICE, ACCOUNT].filter((t) => appliesTo('iam.serviceAccountKeys.create', t))).toEqual([ORG, PROJECT, ACCOUNT])
    for (const p of ['postern.users.update', 'resourcemanager.organizations.setIamPolicy', 'resourcemanager.projects.create', 'resourcemanager.projects.list']) {
      expect([ORG, PROJECT, SERVICE, ACCOUNT].filter((t) => appliesTo(p, t)), p).toEqual([ORG])
    }
  })

  it('the organization takes every permission, and unknown ones apply nowhere', () => {
    for (const p of allPermissions) expect(appliesTo(p, ORG), p).toBe(true)
    expect(appliesTo('run.routes.fly', ORG)).toBe(false)
    expect(appliesTo('constructor', ORG)).toBe(false)
  })
})
