import type { Command } from 'commander'
import { paths } from '../../api/paths.js'
import type { Cli } from '../context.js'
import { usageError } from '../errors.js'
import { withListFlags } from '../list-flags.js'
import { registerPolicyCommands } from './policy-commands.js'

interface Organization {
  name: string
  displayName: string
}

/**
 * Postern's one organization, the installation (DESIGN §1): gcloud's `organizations` commands,
 * the policy ones built as the projects' are, on `/v1/organizations/local`. Its policy is
 * inherited by every project and service, so a grant here reaches everyone's services.
 */
export function registerOrganizations(program: Command, cli: Cli): void {
  const organizations = program.command('organizations').description('The organization (organizations/local): its policy is inherited by every project and service.')

  withListFlags(organizations.command('list')).description('List the organization, if you may see it.').action(async (_o, cmd: Command) => {
    const { organizations: rows = [] } = await cli.api().call<{ organizations?: Organization[] }>('GET', '/v1/organizations')
    cli.printList(cmd, rows, [
      { header: 'DISPLAY_NAME', value: (o) => o.displayName },
      { header: 'ID', value: (o) => o.name.replace(/^organizations\//, '') },
    ])
  })
  organizations.command('describe <organization>').description('Show the organization.').action(async (name: string, _o, cmd: Command) => {
    cli.printResource(cmd, await cli.api().call('GET', organizationPath(name)))
  })
  registerPolicyCommands(organizations, cli, { noun: 'organization', path: organizationPath, shown: () => 'local' }, 'organization')
}

/**
 * `local` or, as gcloud also takes an organization, `organizations/local`. Anything else names an
 * organization Postern does not have: a usage error before any call, rather than the server's 404.
 */
function organizationPath(name: string): string {
  if (name !== 'local' && name !== 'organizations/local') {
    throw usageError(`Postern has one organization: give it as 'local' or 'organizations/local', not '${name}'.`)
  }
  return paths.organization()
}
