import type { Command } from 'commander'
import type { Cli } from '../context.js'
import { trimmed } from '../errors.js'
import { withListFlags } from '../list-flags.js'

interface Group {
  email: string
  displayName: string
  description: string
  members?: string[]
}

const path = (email: string) => `/v1/groups/${encodeURIComponent(email)}`

export function registerGroups(program: Command, cli: Cli): void {
  const groups = program.command('groups').description('Groups of users, service accounts and other groups.')
  groups
    .command('create <email>')
    .description('Create a group.')
    .option('--display-name <name>', 'a display name')
    .option('--description <text>', 'a description')
    .action(async (email: string, o: { displayName?: string; description?: string }, cmd: Command) => {
      const group = await cli.api().call('POST', '/v1/groups', { email, ...o })
      cli.status(`Created group [${email}].`, cmd)
      cli.printResource(cmd, group)
    })
  withListFlags(groups.command('list')).description('List groups.').action(async (_o, cmd: Command) => {
    const { groups: rows = [] } = await cli.api().call<{ groups?: Group[] }>('GET', '/v1/groups')
    cli.printList(cmd, rows, [
      { header: 'EMAIL', value: (g) => g.email },
      { header: 'DISPLAY NAME', value: (g) => g.displayName },
    ])
  })
  groups.command('describe <email>').description('Show a group and its members.').action(async (email: string, _o, cmd: Command) => {
    cli.printResource(cmd, await cli.api().call('GET', path(email)))
  })
  groups.command('delete <email>').description('Delete a group: its bindings become deleted:group:….').action(async (email: string, _o, cmd: Command) => {
    await cli.confirm(cmd, `Group [${email}] will be deleted; its bindings will read deleted:group:….`)
    await cli.api().call('DELETE', path(email))
    cli.status(`Deleted group [${email}].`, cmd)
  })
  groups
    .command('add-member <group>')
    .description('Add a user:, serviceAccount: or group: member.')
    .requiredOption('--member <member>', 'the member', trimmed)
    .action(async (group: string, o: { member: string }, cmd: Command) => {
      const updated = await cli.api().call('POST', `${path(group)}/members`, { member: o.member })
      cli.status(`Added ${o.member} to group [${group}].`, cmd)
      cli.printResource(cmd, updated)
    })
  groups
    .command('remove-member <group>')
    .description('Remove a member.')
    .requiredOption('--member <member>', 'the member', trimmed)
    .action(async (group: string, o: { member: string }, cmd: Command) => {
      await cli.api().call('DELETE', `${path(group)}/members/${encodeURIComponent(o.member)}`)
      cli.status(`Removed ${o.member} from group [${group}].`, cmd)
    })
}
