import type { Command } from 'commander'
import { retryOnConflict } from '../../api/read-modify-write.js'
import type { Service } from '../../api/types.js'
import type { Cli } from '../context.js'
import { usageError } from '../errors.js'
import { withCloudRunFields } from '../cloud-run-fields.js'
import { serviceRef } from '../service-ref.js'
import { changePublicAccess, checkMayChangePublicAccess } from '../public-access.js'
import { registerPolicyCommands } from './policy-commands.js'
import { readableDuration } from '../durations.js'
import { accessRequestLimit, checkMaySetAccessRequestLimit } from '../access-request-limit.js'
import { withListFlags } from '../list-flags.js'
import { timeoutSeconds } from '../durations.js'
import { applyLabelChange, joinRepeated, labelChange, needsCurrentLabels, type LabelFlags } from '../label-flags.js'


interface ServiceFlags extends LabelFlags {
  upstream?: string
  description?: string
  allowUnauthenticated?: boolean
  invokerIamCheck?: boolean
  customAudiences?: string
  addCustomAudiences?: string
  removeCustomAudiences?: string
  clearCustomAudiences?: boolean
  strictAudience?: boolean
  browserAccess?: string
  useHttp2?: boolean
  timeout?: string
}

const list = (text: string | undefined) => (text ?? '').split(',').map((s) => s.trim()).filter(Boolean)

/** The API path of the service a command names (service-ref.ts: a name, or a full resource name). */
export function servicePath(project: string | (() => string), arg: string): string {
  const ref = serviceRef(project, arg)
  return `/v2/projects/${encodeURIComponent(ref.project)}/services/${encodeURIComponent(ref.service)}`
}

function addServiceFlags(cmd: Command): Command {
  return cmd
    .option('--upstream <url>', 'the URL the gateway forwards to, e.g. http://127.0.0.1:9000')
    .option('--description <text>', 'a description')
    .option('--allow-unauthenticated', 'grant roles/run.invoker to allUsers (a public service)')
    .option('--no-allow-unauthenticated', 'remove the allUsers invoker binding')
    .option('--invoker-iam-check', 'check the invoker permission (the default)')
    .option('--no-invoker-iam-check', 'let every request through without a token (invokerIamDisabled; needs run.services.setIamPolicy)')
    .option('--custom-audiences <list>', 'audiences accepted besides the service URL, comma-separated')
    .option('--strict-audience', 'accept only tokens whose aud is the service URL or a custom audience')
    .option('--no-strict-audience', 'accept any Postern token (aud postern-cli too)')
    .option('--browser-access <on|off>', 'on (the default): a browser without a token is sent to sign in, then admitted by a session cookie; off: browsers get 401 like any caller without a token')
    .option('--use-http2', 'the upstream speaks HTTP/2 cleartext (h2c, prior knowledge): requests go to it over HTTP/2 with streams and trailers intact, as gRPC needs')
    .option('--no-use-http2', 'the upstream speaks HTTP/1.1 (the default)')
    .option('--timeout <duration>', 'upstream timeout: seconds, or a duration such as 5m or 10m5s (1s–1h)')
}

function onOff(value: string, flag: string): boolean {
  if (value === 'on') return true
  if (value === 'off') return false
  throw usageError(`${flag}: expected on or off, got '${value}'.`)
}

function serviceBody(o: ServiceFlags, current?: Service): Record<string, unknown> {
  const body: Record<string, unknown> = {}
  if (o.upstream !== undefined) body.upstream = o.upstream
  if (o.description !== undefined) body.description = o.description
  if (o.invokerIamCheck !== undefined) body.invokerIamDisabled = !o.invokerIamCheck
  if (o.strictAudience !== undefined) body.strictAudience = o.strictAudience
  if (o.useHttp2 !== undefined) body.useHttp2 = o.useHttp2
  if (o.browserAccess !== undefined) body.browserAccess = onOff(o.browserAccess, '--browser-access')
  if (o.timeout !== undefined) body.timeoutSeconds = timeoutSeconds(o.timeout)
  // On create there is no current: --labels are the labels.
  const labels = labelChange(o)
  if (labels) body.labels = applyLabelChange(current?.labels ?? {}, labels)
  const audienceFlags = [o.customAudiences !== undefined, o.addCustomAudiences !== undefined || o.removeCustomAudiences !== undefined, Boolean(o.clearCustomAudiences)]
  if (audienceFlags.filter(Boolean).length > 1) throw usageError('Use one of --custom-audiences, --add/--remove-custom-audiences, --clear-custom-audiences.')
  if (o.customAudiences !== undefined) body.customAudiences = list(o.customAudiences)
  if (o.clearCustomAudiences) body.customAudiences = []
  if (o.addCustomAudiences !== undefined || o.removeCustomAudiences !== undefined) {
    const remove = new Set(list(o.removeCustomAudiences))
    body.customAudiences = [...new Set([...(current?.customAudiences ?? []), ...list(o.addCustomAudiences)])].filter((a) => !remove.has(a))
  }
  return body
}

export function registerServices(program: Command, cli: Cli): Command {
  const services = program.command('services').description('Create, inspect and grant access to services.')
  const path = (name: string, cmd: Command) => servicePath(() => cli.project(cmd), name)

  withListFlags(services.command('list'), { uri: "each service's URL" })
    .description('List the services of the project.')
    .action(async (_o, cmd: Command) => {
      const { services: rows = [] } = await cli.api().call<{ services?: Service[] }>('GET', `/v2/projects/${encodeURIComponent(cli.project(cmd))}/services`)
      cli.printList(cmd, rows, [
        { header: 'SERVICE', value: (s) => s.name.split('/').at(-1)! },
        { header: 'URL', value: (s) => s.uri },
        { header: 'UPSTREAM', value: (s) => s.upstream },
        { header: 'AUTHENTICATION', value: (s) => (s.invokerIamDisabled ? 'none (invoker check disabled)' : s.allUsersMayInvoke ? 'none (allUsers may invoke)' : s.strictAudience ? 'required, strict audience' : 'required') },
        { header: 'LAST MODIFIED BY', value: (s) => s.lastModifier },
      ], { projected: withCloudRunFields, uri: (s) => s.uri })
    })

  services
    .command('describe <service>')
    .description('Show a service.')
    .action(async (name: string, _o, cmd: Command) => {
      cli.printResource(cmd, await cli.api().call<Service>('GET', path(name, cmd)), { projected: withCloudRunFields })
    })

  addServiceFlags(
    services
      .command('create <service>')
      .description('Create a private service in front of an upstream.')
      .option('--labels <KEY=VALUE,...>', 'labels of the service, e.g. team=payments,cost-center=42 (keys: lowercase letters, digits, - and _, starting with a letter)', joinRepeated),
  ).action(
    async (name: string, o: ServiceFlags, cmd: Command) => {
      if (!o.upstream) throw usageError('--upstream is required, e.g. --upstream http://127.0.0.1:9000')
      const project = cli.project(cmd)
      const ref = { project, service: name }
      const body = serviceBody(o)
      if (o.allowUnauthenticated) await checkMayChangePublicAccess(cli.api(), path(name, cmd), ref, true, false)
      const created = await cli.api().call<Service>('POST', `/v2/projects/${encodeURIComponent(project)}/services?serviceId=${encodeURIComponent(name)}`, body)
      const failed = o.allowUnauthenticated ? await changePublicAccess(cli.api(), path(name, cmd), ref, true, 'created') : undefined
      cli.status(`Service [${name}] created in project [${project}].\nService URL: ${created.uri}`, cmd)
      // As it is now: allUsersMayInvoke changed with the policy, after the answer to the create.
      const shown = o.allowUnauthenticated && !failed ? await cli.api().call<Service>('GET', path(name, cmd)) : created
      cli.printResource(cmd, shown, { projected: withCloudRunFields })
      if (failed) throw failed
    },
  )

  addServiceFlags(
    services
      .command('update <service>')
      .description('Change a service.')
      .option('--labels <KEY=VALUE,...>', 'labels to add or change, the others staying: an alias of --update-labels, as in gcloud run', joinRepeated)
      .option('--update-labels <KEY=VALUE,...>', 'labels to add or change, the others staying, e.g. cost-center=42', joinRepeated)
      .option('--remove-labels <KEY,...>', 'labels to remove (one the service lacks is ignored); after --update-labels', joinRepeated)
      .option('--clear-labels', 'remove every label; with --update-labels, cleared first, so those are then all the labels')
      .option('--add-custom-audiences <list>', 'audiences to add')
      .option('--remove-custom-audiences <list>', 'audiences to remove')
      .option('--clear-custom-audiences', 'remove every custom audience')
      .option('--max-access-request-duration <duration>', 'the longest an access request may ask for, between 1m and 7d, e.g. 8h (the default); needs run.services.setIamPolicy, checked before anything is changed'),
  ).action(async (name: string, o: ServiceFlags & { maxAccessRequestDuration?: string }, cmd: Command) => {
    const maxRequestDuration = o.maxAccessRequestDuration === undefined ? undefined : accessRequestLimit(o.maxAccessRequestDuration)
    const body = serviceBody(o)
    if (!Object.keys(body).length && o.allowUnauthenticated === undefined && maxRequestDuration === undefined) {
      throw usageError('Nothing to change: give at least one flag (see postern services update --help).')
    }
    const ref = serviceRef(() => cli.project(cmd), name)
    // Everything checked before the first call changes anything: the calls below are several.
    if (o.allowUnauthenticated !== undefined) await checkMayChangePublicAccess(cli.api(), path(name, cmd), ref, o.allowUnauthenticated, true)
    if (maxRequestDuration !== undefined) await checkMaySetAccessRequestLimit(cli.api(), path(name, cmd), ref.service)
    let updated: Service | undefined
    if (o.addCustomAudiences !== undefined || o.removeCustomAudiences !== undefined || needsCurrentLabels(labelChange(o))) {
      // Adding to a list or a map is a read-modify-write: the etag makes a concurrent change abort it, and it starts over.
      updated = await retryOnConflict(async () => {
        const current = await cli.api().call<Service>('GET', path(name, cmd))
        return cli.api().call<Service>('PATCH', path(name, cmd), { ...serviceBody(o, current), etag: current.etag }, { idempotent: true })
      })
    } else if (Object.keys(body).length) updated = await cli.api().call<Service>('PATCH', path(name, cmd), body)
    const failed = o.allowUnauthenticated === undefined ? undefined : await changePublicAccess(cli.api(), path(name, cmd), ref, o.allowUnauthenticated, 'updated')
    if (maxRequestDuration !== undefined) {
      await cli.api().call('PATCH', `${path(name, cmd)}/accessRequestSettings`, { maxRequestDuration })
      cli.status(`Access requests for service [${name}] may now ask for at most ${readableDuration(maxRequestDuration)}.`, cmd)
    }
    // Read again after a policy change: allUsersMayInvoke changed with it, after the PATCH's answer.
    if (o.allowUnauthenticated !== undefined && !failed) updated = undefined
    updated ??= await cli.api().call<Service>('GET', path(name, cmd))
    cli.status(`Service [${name}] updated.`, cmd)
    cli.printResource(cmd, updated, { projected: withCloudRunFields })
    if (failed) throw failed
  })

  services
    .command('delete <service>')
    .description('Delete a service (its URL stops answering at once).')
    .action(async (name: string, _o, cmd: Command) => {
      await cli.confirm(cmd, `Service [${name}] will be deleted; its URL stops answering at once.`)
      await cli.api().call('DELETE', path(name, cmd))
      cli.status(`Deleted service [${name}].`, cmd)
    })

  registerPolicyCommands(services, cli, { noun: 'service', path }, 'service')
  return services
}
