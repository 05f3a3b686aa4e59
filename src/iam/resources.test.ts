import { describe, expect, it } from 'vitest'
import { PosternError } from '../core/errors.js'
import { lineage, ORGANIZATION, parseProjectId, parseServiceId, projectName, resourceType, serviceAccountName, serviceName } from './resources.js'

describe('resource names and their lineage', () => {
  it('builds names', () => {
    expect(projectName('my-project')).toBe('projects/my-project')
    expect(serviceName('my-project', 'hello')).toBe('projects/my-project/services/hello')
    expect(serviceAccountName('my-project', 'ci@my-project.iam.postern.internal')).toBe('projects/my-project/serviceAccounts/ci@my-project.iam.postern.internal')
  })

  it.each([
    [ORGANIZATION, 'postern.organization/Organization', [ORGANIZATION]],
    ['projects/my-project', 'postern.project/Project', ['projects/my-project', ORGANIZATION]],
    ['projects/my-project/services/hello', 'run.postern/Service', ['projects/my-project/services/hello', 'projects/my-project', ORGANIZATION]],
    [
      'projects/my-project/serviceAccounts/ci@my-project.iam.postern.internal',
      'iam.postern/ServiceAccount',
      ['projects/my-project/serviceAccounts/ci@my-project.iam.postern.internal', 'projects/my-project', ORGANIZATION],
    ],
  ])('%s is a %s inheriting from its ancestors', (name, type, chain) => {
    expect(resourceType(name)).toBe(type)
    expect(lineage(name)).toEqual(chain)
  })

  it.each(['', 'organizations/other', 'projects/', 'projects/p/', 'projects/p/services', 'projects/p/services/s/extra', 'projects/p/buckets/b', 'services/s', 'projects//services/s'])(
    'an unknown resource %j has no type and inherits nothing',
    (name) => {
      expect(() => resourceType(name)).toThrow(PosternError)
      expect(() => lineage(name)).toThrow(PosternError)
    },
  )
})

describe('ids', () => {
  it.each(['abcdef', 'my-project', 'a1234-b', 'a'.repeat(30)])('project id %j is valid', (id) => expect(parseProjectId(id)).toBe(id))
  it.each(['abcde', 'a'.repeat(31), '1project', 'my-project-', 'My-Project', 'my_project', 'my project', '', 7])('project id %j is INVALID_ARGUMENT', (id) => {
    expect(() => parseProjectId(id)).toThrow(expect.objectContaining({ status: 'INVALID_ARGUMENT' }))
  })
  it.each(['ab', 'hello', 'a-1', 'a'.repeat(50)])('service id %j is valid', (id) => expect(parseServiceId(id)).toBe(id))
  it.each(['a', 'a'.repeat(51), '1hello', 'hello-', 'Hello', 'he_llo', '', null])('service id %j is INVALID_ARGUMENT', (id) => {
    expect(() => parseServiceId(id)).toThrow(expect.objectContaining({ status: 'INVALID_ARGUMENT' }))
  })
})
