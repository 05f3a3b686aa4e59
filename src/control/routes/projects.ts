import { PosternError, notFound } from '../../core/errors.js'
import { newUid } from '../../core/ids.js'
import { parseWith } from '../../core/validate.js'
import { ORGANIZATION, parseProjectId, projectName } from '../../iam/resources.js'
import type { Router } from '../../http/router.js'
import type { ProjectRecord } from '../../store/records.js'
import type { StoreTx } from '../../store/store.js'
import { check } from '../access.js'
import { allowRead, mutate, ok, rfc3339, type Handler } from '../handler.js'
import * as z from 'zod'

const CreateProject = z.strictObject({ projectId: z.string() })

/** NOT_FOUND for a project that is not there, so a typo never reads as an empty project. */
export async function assertProjectExists(tx: StoreTx, projectId: string): Promise<void> {
  if (!(await tx.getProject(projectId))) throw notFound(`Project '${projectId}' not found.`)
}

/** Holding any of these on a project is what opening it in the console or the CLI needs. */
const OPEN = ['resourcemanager.projects.get', 'run.services.list', 'iam.serviceAccounts.list']

const view = (p: ProjectRecord) => ({ name: projectName(p.projectId), projectId: p.projectId, uid: p.uid, createTime: rfc3339(p.createTime) })

export function projectRoutes(r: Router<Handler>): void {
  // The projects the caller can open, as Google's projects.list answers: an owner sees every one,
  // a developer granted a role on one project sees that one, and no one gets a 403 for asking.
  r.add('GET', '/v1/projects', async (c) => {
    const caller = c.caller()
    const now = c.deps.clock()
    const all = await c.deps.store.listProjects()
    const everything = check(c.deps.directory, caller.principal, 'resourcemanager.projects.list', ORGANIZATION, now).allow
    const open = everything ? all : all.filter((p) => OPEN.some((permission) => check(c.deps.directory, caller.principal, permission, projectName(p.projectId), now).allow))
    return ok({ projects: open.map(view) })
  })

  r.add('POST', '/v1/projects', async (c) => {
    const projectId = parseProjectId(parseWith(CreateProject, await c.json()).projectId)
    const record: ProjectRecord = { projectId, uid: newUid(), createTime: c.deps.clock() }
    await mutate(c, { method: 'projects.create', resource: projectName(projectId), permission: 'resourcemanager.projects.create', checkOn: ORGANIZATION }, async (tx) => {
      if (!(await tx.insertProject(record))) throw new PosternError('ALREADY_EXISTS', `Project '${projectId}' already exists.`)
      await tx.recordChange('project', projectId)
    })
    return ok(view(record))
  })

  r.add('GET', '/v1/projects/{project}', async (c) => {
    const name = projectName(parseProjectId(c.params.project))
    allowRead(c, 'resourcemanager.projects.get', name)
    const p = await c.deps.store.getProject(c.params.project!)
    if (!p) throw notFound(`Project '${c.params.project}' not found.`)
    return ok(view(p))
  })

  r.add('DELETE', '/v1/projects/{project}', async (c) => {
    const projectId = parseProjectId(c.params.project)
    const name = projectName(projectId)
    await mutate(c, { method: 'projects.delete', resource: name, permission: 'resourcemanager.projects.delete' }, async (tx) => {
      if (!(await tx.getProject(projectId))) throw notFound(`Project '${projectId}' not found.`)
      const services = await tx.listServices(projectId)
      const accounts = await tx.listServiceAccounts(projectId)
      if (services.length || accounts.length) {
        throw new PosternError('FAILED_PRECONDITION', `Project '${projectId}' still has ${services.length} service(s) and ${accounts.length} service account(s); delete them first.`)
      }
      await tx.deleteProject(projectId)
      await tx.deletePolicy(name)
      await tx.recordChange('project', projectId)
      await tx.recordChange('policy', name)
    })
    return ok({})
  })
}
