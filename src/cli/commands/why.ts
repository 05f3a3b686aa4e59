import type { Command } from 'commander'
import type { Cli } from '../context.js'
import { trimmed } from '../errors.js'
import { formatResource } from '../output.js'
import { servicePath } from './services.js'

interface Explanation {
  access: 'GRANTED' | 'NOT_GRANTED' | 'UNKNOWN'
  reason: string
  principal: string
  permission: string
  resource: string
  bindings: { resource: string; role: string; matchedMembers: string[]; grants: boolean; condition?: { title: string; expression: string; result: boolean | 'error' } }[]
  notes: string[]
  /** What the caller may not read (other policies, group memberships, whether accounts exist). */
  hidden?: string[]
  /** The member is a user or service account that does not exist. */
  principalMissing?: true
}

/** `postern services why SERVICE --member M`: which binding grants, or why none does. */
export function registerWhy(services: Command, cli: Cli): void {
  services
    .command('why <service>')
    .description('Explain whether a member may invoke (or hold another permission on) a service, and why.')
    .option('--member <member>', 'user:EMAIL, serviceAccount:EMAIL or principal://… (default: the active account)', trimmed)
    .option('--permission <permission>', 'the permission to check', 'run.routes.invoke')
    .action(async (name: string, o: { member?: string; permission: string }, cmd: Command) => {
      const member = o.member ?? activeMember(cli, cmd)
      const resource = servicePath(() => cli.project(cmd), name).replace(/^\/v2\//, '')
      const result = await cli.api().call<Explanation>('POST', '/v1/troubleshoot', { principal: member, resource: decodeURIComponent(resource), permission: o.permission })
      const format = cli.format(cmd, 'table')
      if (format !== 'table') {
        cli.print(formatResource(result, format))
        return
      }
      const verdict = {
        GRANTED: `GRANTED: ${result.principal} holds ${result.permission} on ${result.resource}.`,
        NOT_GRANTED: `NOT GRANTED: ${result.principal} lacks ${result.permission} on ${result.resource}.`,
        UNKNOWN: `UNKNOWN: no binding you may read grants ${result.principal} ${result.permission} on ${result.resource}; some you may not read could.`,
      }
      const lines = [verdict[result.access]]
      const granting = result.bindings.filter((b) => b.grants)
      for (const b of granting) {
        lines.push(`  granted by ${b.role} on ${b.resource} to ${b.matchedMembers.join(', ')}${b.condition ? ` while "${b.condition.title}" (${b.condition.expression}) holds` : ''}`)
      }
      for (const b of result.bindings.filter((x) => !x.grants && x.matchedMembers.length)) {
        lines.push(`  ${b.role} on ${b.resource} names ${b.matchedMembers.join(', ')}, but its condition "${b.condition?.title}" is ${b.condition?.result === 'error' ? 'in error' : 'false'} now`)
      }
      for (const note of result.notes) lines.push(`  note: ${note}`)
      for (const part of result.hidden ?? []) lines.push(`  hidden: ${part}`)
      if (result.access === 'NOT_GRANTED' && o.permission === 'run.routes.invoke') {
        const grant = `postern services add-iam-policy-binding ${name} --member='${member}' --role='roles/run.invoker'`
        // A grant to an account that does not exist is refused: the account comes first.
        const create = result.principalMissing ? creationOf(member) : undefined
        lines.push(create ? `  to grant, create it first: ${create}; then: ${grant}` : `  to grant: ${grant}`)
      }
      cli.print(lines.join('\n') + '\n')
    })
}

/** The member the active account is: as `postern auth list` shows it, with its kind's prefix. */
function activeMember(cli: Cli, cmd: Command): string {
  // Impersonating, the command acts as the service account: that is who is asked about.
  const impersonated = cli.impersonated(cmd)
  if (impersonated) return `serviceAccount:${impersonated}`
  const { account, type } = cli.session.signIn()
  if (type === 'service_account') return `serviceAccount:${account}`
  if (type === 'federated') return account
  return `user:${account}`
}

/** The command that creates a missing user or service account, as the member names it. */
function creationOf(member: string): string | undefined {
  const [kind, email = ''] = member.split(/:(.*)/s)
  if (kind === 'user') return `postern users create ${email}`
  if (kind === 'serviceAccount') return `postern iam service-accounts create ${email.split('@')[0]}`
  return undefined
}
