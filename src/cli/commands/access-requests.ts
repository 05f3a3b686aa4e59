import type { Command } from 'commander'
import type { Api } from '../api.js'
import type { Cli } from '../context.js'
import { wireDuration, readableDuration as seconds } from '../durations.js'
import { CliError } from '../errors.js'
import { accessRequestId } from '../access-request-ref.js'

import { servicePath } from './services.js'
import { pagesWanted, withListFlags, type ListShape } from '../list-flags.js'
import { collectPages } from '../pages.js'

export interface AccessRequest {
  name: string
  id: string
  resource: string
  project: string
  service: string
  requester: string
  role: string
  reason: string
  requestedDuration: string
  state: 'PENDING' | 'APPROVED' | 'DENIED' | 'EXPIRED'
  createTime: string
  decider?: string
  decideTime?: string
  denialReason?: string
  grantedDuration?: string
  expireTime?: string
  canDecide: boolean
}

const requestPath = (id: string) => `/v1/accessRequests/${encodeURIComponent(id)}`
const ID_HELP = "the request's id, or its name as list prints it (accessRequests/ID)"
/** GET /v1/accessRequests answers at most this many a page. */
const MAX_PAGE_SIZE = 500


/**
 * Access requests (DESIGN §9): `postern services request-access` asks for a role on a service for
 * a while; `postern access-requests list|describe|approve|deny|wait` is how approvers (and the
 * requester) see and decide them.
 */
export function registerAccessRequests(program: Command, services: Command, cli: Cli): void {
  services
    .command('request-access <service>')
    .description('Ask for a role on a service for a limited time; someone who may set its IAM policy approves or denies.')
    .option('--role <role>', 'the role to ask for', 'roles/run.invoker')
    .requiredOption('--for <duration>', 'how long you need it, e.g. 30m, 2h (at most the service’s limit, 8h unless an admin changed it)')
    .requiredOption('--reason <text>', 'why you need it; approvers see it')
    .option('--wait', 'wait until the request is approved or denied')
    .action(async (name: string, o: { role: string; for: string; reason: string; wait?: boolean }, cmd: Command) => {
      const duration = wireDuration(o.for, '--for')
      const resource = decodeURIComponent(servicePath(() => cli.project(cmd), name).replace(/^\/v2\//, ''))
      const api = cli.api()
      const filed = await api.call<AccessRequest>('POST', '/v1/accessRequests', { resource, role: o.role, duration, reason: o.reason })
      cli.status(`Requested ${filed.role} on service [${name}] for ${seconds(filed.requestedDuration)}: request [${filed.id}] is pending.\nSomeone who may set the service's IAM policy can run: postern access-requests approve ${filed.id}`, cmd)
      if (!o.wait) {
        cli.printResource(cmd, filed)
        return
      }
      await waitAndReport(cli, api, filed.id, cmd)
    })

  const group = program.command('access-requests').description('See, approve and deny requests for time-limited access to services.')

  withListFlags(group.command('list'), { maxPageSize: MAX_PAGE_SIZE })
    .description('List pending access requests you may decide, and your own.')
    .option('--all', 'include approved, denied and expired requests')
    .action(async (o: { all?: boolean } & ListShape, cmd: Command) => {
      const api = cli.api()
      const rows = await collectPages(async (size, pageToken) => {
        const query = new URLSearchParams({ pageSize: String(size), ...(!o.all && { state: 'PENDING' }), ...(pageToken !== undefined && { pageToken }) })
        const page = await api.call<{ accessRequests?: AccessRequest[]; nextPageToken?: string }>('GET', `/v1/accessRequests?${query}`)
        return { items: page.accessRequests ?? [], nextPageToken: page.nextPageToken }
      }, pagesWanted(o, MAX_PAGE_SIZE))
      cli.printList(cmd, rows, [
        { header: 'ID', value: (r) => r.id },
        { header: 'PROJECT', value: (r) => r.project },
        { header: 'SERVICE', value: (r) => r.service },
        { header: 'REQUESTER', value: (r) => r.requester },
        { header: 'ROLE', value: (r) => r.role },
        { header: 'DURATION', value: (r) => seconds(r.grantedDuration ?? r.requestedDuration) },
        { header: 'STATE', value: (r) => r.state },
        { header: 'ENDS', value: (r) => r.expireTime ?? '' },
        { header: 'REASON', value: (r) => r.reason },
      ], { empty: o.all ? 'No access requests you may see.' : 'No pending access requests you may see.' })
    })

  group
    .command('describe')
    .argument('<id>', ID_HELP, accessRequestId)
    .description('Show an access request.')
    .action(async (id: string, _o, cmd: Command) => {
      cli.printResource(cmd, await cli.api().call('GET', requestPath(id)))
    })

  group
    .command('approve')
    .argument('<id>', ID_HELP, accessRequestId)
    .description('Approve a request: the requester holds the role until the duration runs out, then Postern removes the grant.')
    .option('--for <duration>', 'how long to grant (default: what was asked for)')
    .action(async (id: string, o: { for?: string }, cmd: Command) => {
      const body = o.for === undefined ? {} : { duration: wireDuration(o.for, '--for') }
      const approved = await cli.api().call<AccessRequest>('POST', `${requestPath(id)}:approve`, body)
      cli.status(`Approved access request [${id}]: ${approved.requester} holds ${approved.role} on ${approved.resource} until ${approved.expireTime}.`, cmd)
      cli.printResource(cmd, approved)
    })

  group
    .command('deny')
    .argument('<id>', ID_HELP, accessRequestId)
    .description('Deny a request.')
    .option('--reason <text>', 'why; the requester sees it')
    .action(async (id: string, o: { reason?: string }, cmd: Command) => {
      const denied = await cli.api().call<AccessRequest>('POST', `${requestPath(id)}:deny`, o.reason === undefined ? {} : { reason: o.reason })
      cli.status(`Denied access request [${id}].`, cmd)
      cli.printResource(cmd, denied)
    })

  group
    .command('wait')
    .argument('<id>', ID_HELP, accessRequestId)
    .description('Wait until a request is approved or denied (exit 1 if it is denied).')
    .action(async (id: string, _o, cmd: Command) => {
      await waitAndReport(cli, cli.api(), id, cmd)
    })
}

/** Long-polls until the request is decided; exits 1 when it was denied. */
async function waitAndReport(cli: Cli, api: Api, id: string, cmd: Command): Promise<void> {
  cli.status(`Waiting for a decision on access request [${id}] (Ctrl-C stops waiting; the request stays).`, cmd)
  const decided = await waitForDecision(api, id)
  if (decided.state === 'DENIED') {
    throw new CliError(`ERROR: Access request [${id}] was denied by ${decided.decider}${decided.denialReason ? `: ${decided.denialReason}` : '.'}`)
  }
  if (decided.state === 'APPROVED') cli.status(`Approved by ${decided.decider}: you hold ${decided.role} on service [${decided.service}] until ${decided.expireTime}.`, cmd)
  else cli.status(`Access request [${id}] was approved by ${decided.decider}, and the grant has already ended (${decided.expireTime}).`, cmd)
  cli.printResource(cmd, decided)
}

const TRANSIENT = new Set(['UNAVAILABLE', 'INTERNAL', 'RESOURCE_EXHAUSTED', 'DEADLINE_EXCEEDED', 'BAD_GATEWAY'])

/**
 * Each call returns as soon as the request is decided, or after 30 s with it still pending; a
 * server that cannot be reached is asked again with exponential backoff (at most 10 s apart).
 */
async function waitForDecision(api: Api, id: string): Promise<AccessRequest> {
  let pause = 500
  for (;;) {
    let current: AccessRequest
    try {
      current = await api.call<AccessRequest>('POST', `${requestPath(id)}:wait`, { timeout: '30s' })
      pause = 500
    } catch (err) {
      if (!(err instanceof CliError && err.status !== undefined && TRANSIENT.has(err.status))) throw err
      await new Promise((r) => setTimeout(r, pause))
      pause = Math.min(10_000, pause * 2)
      continue
    }
    if (current.state !== 'PENDING') return current
  }
}
