import type { Command } from 'commander'
import type { Cli } from '../context.js'
import { registerPolicyCommands } from './policy-commands.js'
import { withListFlags } from '../list-flags.js'

interface Project {
  projectId: string
  name: string
  createTime: string
}

export function registerProjects(program: Command, cli: Cli): void {
  const projects = program.command('projects').description('Projects hold services and service accounts.')
  const path = (id: string) => `/v1/projects/${encodeURIComponent(id)}`

  withListFlags(projects.command('list')).description('List projects.').action(async (_o, cmd: Command) => {
    const { projects: rows = [] } = await cli.api().call<{ projects?: Project[] }>('GET', '/v1/projects')
    cli.printList(cmd, rows, [
      { header: 'PROJECT_ID', value: (p) => p.projectId },
      { header: 'CREATE_TIME', value: (p) => p.createTime },
    ])
  })
  projects.command('create <projectId>').description('Create a project.').action(async (id: string, _o, cmd: Command) => {
    const created = await cli.api().call('POST', '/v1/projects', { projectId: id })
    cli.status(`Created project [${id}].`, cmd)
    cli.printResource(cmd, created)
  })
  projects.command('describe <projectId>').description('Show a project.').action(async (id: string, _o, cmd: Command) => {
    cli.printResource(cmd, await cli.api().call('GET', path(id)))
  })
  projects.command('delete <projectId>').description('Delete an empty project.').action(async (id: string, _o, cmd: Command) => {
    await cli.confirm(cmd, `Project [${id}] will be deleted.`)
    await cli.api().call('DELETE', path(id))
    cli.status(`Deleted project [${id}].`, cmd)
  })
  registerPolicyCommands(projects, cli, { noun: 'project', path }, 'projectId')
}
