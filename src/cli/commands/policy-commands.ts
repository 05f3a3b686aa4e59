import type { Command } from 'commander'
import type { Cli } from '../context.js'
import { CliError, once, usageError } from '../errors.js'
import { listFlagsGiven, withListFlags, type ListShape } from '../list-flags.js'
import { conditionFlags, explainUnknownRole, readModifyWrite, uncheckedMemberNote, withBinding, withoutBinding, type Policy } from '../policy-editing.js'
import { showDryRun } from '../policy-dry-run.js'
import { readDocument } from '../read-document.js'

export interface PolicyTarget {
  /** As in the status line: "service", "project", "serviceAccount". */
  noun: string
  /** The API path of the resource, e.g. /v2/projects/p/services/s. */
  path: (name: string, cmd: Command) => string
  /** How the status line names the resource, when not as typed (`organizations/local` → `local`). */
  shown?: (name: string) => string
}

/** get-iam-policy, set-iam-policy, add-iam-policy-binding, remove-iam-policy-binding for one resource kind. */
export function registerPolicyCommands(group: Command, cli: Cli, target: PolicyTarget, arg: string): void {
  withListFlags(group.command(`get-iam-policy <${arg}>`), { flatten: true })
    .description(`Show the IAM policy of the ${target.noun}; with --flatten='bindings[].members', --filter and --format, as gcloud: which roles a member holds.`)
    .action(async (name: string, o: ListShape, cmd: Command) => {
      const policy = await cli.api().call<Policy>('POST', `${target.path(name, cmd)}:getIamPolicy`, {}, { idempotent: true })
      if (listFlagsGiven(o)) cli.printRecords(cmd, policy)
      else cli.printResource(cmd, policy)
    })

  group
    .command(`set-iam-policy <${arg}> <policyFile>`)
    .description('Replace the IAM policy with the one in a JSON or YAML file; its etag guards against overwriting a concurrent change.')
    .option('--dry-run', 'show who would gain and lose which permission, without saving')
    .action(async (name: string, file: string, o: { dryRun?: boolean }, cmd: Command) => {
      const resource = target.path(name, cmd)
      const policy = readPolicyFile(file)
      if (o.dryRun) return showDryRun(cli, cli.api(), resource, policy, cmd)
      const result = await cli.api().call<Policy>('POST', `${resource}:setIamPolicy`, { policy }, { idempotent: typeof policy.etag === 'string' && policy.etag !== '' })
      cli.status(updated(target, name), cmd)
      cli.printResource(cmd, result)
    })

  group
    .command(`add-iam-policy-binding <${arg}>`)
    .description('Grant a role to a member.')
    .requiredOption('--member <member>', 'user:EMAIL, group:EMAIL, serviceAccount:EMAIL, domain:DOMAIN, allUsers, allAuthenticatedUsers, principal://… or principalSet://…', once('--member'))
    .requiredOption('--role <role>', 'e.g. roles/run.invoker', once('--role'))
    .option('--condition <condition>', 'expression=EXPR,title=TITLE[,description=DESC], or None for a binding without one (needed, one or the other, once the policy has a conditional binding)', once('--condition'))
    .option('--condition-from-file <file>', 'the condition in a JSON or YAML file: expression, title and, optionally, description', once('--condition-from-file'))
    .option('--dry-run', 'show who would gain and lose which permission, without saving')
    .action(async (name: string, o: { member: string; role: string; condition?: string; conditionFromFile?: string; dryRun?: boolean }, cmd: Command) => {
      const resource = target.path(name, cmd)
      const condition = conditionFlags(o)
      const edit = (p: Policy) => withBinding(p, o.member, o.role, condition)
      if (o.dryRun) return dryRunEdit(cli, resource, edit, cmd)
      const result = await readModifyWrite(cli.api(), resource, edit)
      const note = uncheckedMemberNote(o.member)
      if (note) cli.status(note, cmd)
      cli.status(updated(target, name), cmd)
      cli.printResource(cmd, result)
    })

  group
    .command(`remove-iam-policy-binding <${arg}>`)
    .description('Revoke a role from a member.')
    .requiredOption('--member <member>', 'the member to remove', once('--member'))
    .requiredOption('--role <role>', 'the role to remove it from', once('--role'))
    .option('--condition <condition>', 'the binding’s condition: expression=…,title=…[,description=…], or None for the binding without one (needed, or --all, once the policy has a conditional binding)', once('--condition'))
    .option('--condition-from-file <file>', 'the binding’s condition in a JSON or YAML file: expression, title and, optionally, description', once('--condition-from-file'))
    .option('--all', 'remove the member from every binding of the role, whatever its condition')
    .option('--dry-run', 'show who would gain and lose which permission, without saving')
    .action(async (name: string, o: { member: string; role: string; condition?: string; conditionFromFile?: string; all?: boolean; dryRun?: boolean }, cmd: Command) => {
      const resource = target.path(name, cmd)
      if (o.all && (o.condition !== undefined || o.conditionFromFile !== undefined)) throw usageError(`--all and ${o.condition !== undefined ? '--condition' : '--condition-from-file'} exclude each other.`)
      // Checked as add-iam-policy-binding's member is (by the server): a member without its type
      // prefix is named as such, not reported as a binding that was not found.
      const problem = memberProblem(o.member)
      if (problem) throw new CliError(`ERROR: (INVALID_ARGUMENT) ${problem}`)
      const which = o.all ? 'all' : conditionFlags(o)
      const edit = (p: Policy) => withoutBinding(p, o.member, o.role, which)
      try {
        if (o.dryRun) return await dryRunEdit(cli, resource, edit, cmd)
        const result = await readModifyWrite(cli.api(), resource, edit)
        cli.status(updated(target, name), cmd)
        cli.printResource(cmd, result)
      } catch (err) {
        throw await explainUnknownRole(cli.api(), o.role, err)
      }
    })
}

/** gcloud's status line after a write: `Updated IAM policy for project [p].` */
function updated(target: PolicyTarget, name: string): string {
  return `Updated IAM policy for ${target.noun} [${target.shown ? target.shown(name) : name}].`
}

/** The dry run of an edit: the current policy, edited as the command would, simulated with its etag. */
async function dryRunEdit(cli: Cli, resourcePath: string, edit: (p: Policy) => Policy, cmd: Command): Promise<void> {
  const api = cli.api()
  const current = await api.call<Policy>('POST', `${resourcePath}:getIamPolicy`, {}, { idempotent: true })
  await showDryRun(cli, api, resourcePath, { ...edit(current), etag: current.etag }, cmd)
}

function readPolicyFile(file: string): Record<string, unknown> {
  const value = readDocument(file, 'JSON or YAML')
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new CliError(`${file} must hold a policy object with bindings and etag.`)
  const policy = value as Record<string, unknown>
  // gcloud accepts a file holding {"policy": {...}} as well as the bare policy.
  return typeof policy.policy === 'object' && policy.policy !== null && !('bindings' in policy) ? (policy.policy as Record<string, unknown>) : policy
}

/**
 * What the server would say of a member typed without its type prefix (src/iam/members.ts words
 * it so for add-iam-policy-binding); a removal is edited here, and would only say "not found".
 */
function memberProblem(member: string): string | undefined {
  if (member.includes(':') || !member.includes('@')) return undefined
  return `Invalid member '${member}': a member needs a type prefix, e.g. 'user:${member}'.`
}
