import * as z from 'zod'
import { invalid, notFound } from '../../core/errors.js'
import { parseWith } from '../../core/validate.js'
import { explain } from '../../iam/explain.js'
import { FEDERATION_PREFIX, parseMember } from '../../iam/members.js'
import { principalMembers, type Principal } from '../../iam/principal.js'
import { ORGANIZATION, resourceType } from '../../iam/resources.js'
import { parsePermission } from '../../iam/roles.js'
import type { Router } from '../../http/router.js'
import type { StoreTx } from '../../store/store.js'
import { allowRead, ok, type Handler } from '../handler.js'

const Body = z.strictObject({ principal: z.string().max(300), resource: z.string().max(300), permission: z.string().max(200).optional() })

const GET_POLICY: Record<string, string> = {
  'postern.organization/Organization': 'resourcemanager.organizations.getIamPolicy',
  'postern.project/Project': 'resourcemanager.projects.getIamPolicy',
  'run.postern/Service': 'run.services.getIamPolicy',
  'iam.postern/ServiceAccount': 'iam.serviceAccounts.getIamPolicy',
}

/** Turns a member string into the principal it would be if it called, with notes on its state. */
async function principalFor(store: StoreTx, raw: string): Promise<{ principal: Principal; notes: string[] }> {
  const member = parseMember(raw)
  const notes: string[] = []
  if (member.startsWith('user:') || member.startsWith('serviceAccount:')) {
    const kind = member.startsWith('user:') ? 'user' : 'serviceAccount'
    const email = member.slice(member.indexOf(':') + 1)
    const record = kind === 'user' ? await store.getUser(email) : await store.getServiceAccount(email)
    if (!record) notes.push(`${member} does not exist in Postern (yet); its bindings would apply to it once it does.`)
    else if (record.disabled) notes.push(`${member} is disabled: its tokens are refused before any policy is consulted.`)
    return { principal: { kind, email, uid: record?.uid ?? '' }, notes }
  }
  if (member.startsWith('principal://')) {
    const [pool, , ...rest] = member.slice(`principal://${FEDERATION_PREFIX}`.length).split('/')
    const subject = rest.join('/')
    // Groups and attributes come from a sign-in: those of the subject's last one are the best guess.
    const seen = await store.findFederatedSubject(pool!, subject)
    const poolRecord = await store.getWorkforcePool(pool!)
    if (!poolRecord) notes.push(`The workforce pool ${pool} does not exist: its principals cannot sign in.`)
    else if (poolRecord.disabled) notes.push(`The workforce pool ${pool} is disabled: its tokens are refused before any policy is consulted.`)
    if (seen) {
      notes.push(`Groups and attributes are those of its last sign-in (${new Date(seen.lastSignInTime).toISOString()}): groups [${seen.groups.join(', ')}]${Object.keys(seen.attributes).length ? `, attributes ${Object.entries(seen.attributes).map(([k, v]) => `${k}=${v}`).join(', ')}` : ''}.`)
    } else {
      notes.push(`${member} has not signed in yet; only bindings naming it or its pool (principalSet://…/*) are considered.`)
    }
    return { principal: { kind: 'federated', pool: pool!, subject, uid: seen?.uid ?? member, groups: seen?.groups ?? [], attributes: seen?.attributes ?? {} }, notes }
  }
  throw invalid(`Troubleshoot a user:, serviceAccount: or principal:// member, not '${member}'.`)
}

/** POST /v1/troubleshoot: which binding grants, or why none does (issue 4). */
export function troubleshootRoutes(r: Router<Handler>): void {
  r.add('POST', '/v1/troubleshoot', async (c) => {
    const body = parseWith(Body, await c.json())
    const type = resourceType(body.resource)
    const permission = parsePermission(body.permission ?? 'run.routes.invoke')
    allowRead(c, GET_POLICY[type]!, body.resource)
    if (!(await resourceExists(c.deps.store, body.resource))) throw notFound(`Resource '${body.resource}' not found.`)
    const { principal, notes } = await principalFor(c.deps.store, body.principal)
    const now = c.deps.clock()
    const result = explain({
      policies: c.deps.directory.policyChain(body.resource),
      members: principalMembers(principal, c.deps.directory.groups),
      permission,
      resource: { name: body.resource, type },
      now,
    })
    const service = type === 'run.postern/Service' ? await serviceOf(c.deps.store, body.resource) : undefined
    if (service?.invokerIamDisabled && permission === 'run.routes.invoke') notes.push('The service has invokerIamDisabled: the gateway lets every request through without a token.')
    if (service?.strictAudience && permission === 'run.routes.invoke') {
      notes.push(`The service has strictAudience: only tokens whose aud is the service URL${service.customAudiences.length ? ' or one of its custom audiences' : ''} are accepted; get one with 'postern auth print-identity-token --audiences SERVICE_URL'.`)
    }
    if (!result.allow && result.reason === 'no-binding') notes.push(`No binding on ${body.resource} or its ancestors grants ${permission} to ${body.principal} or a group it is in.`)
    if (result.reason === 'condition-false') notes.push('A binding names the principal, but its condition is false now.')
    if (result.reason === 'condition-error') notes.push('A binding names the principal, but its condition failed to evaluate, which grants nothing.')
    return ok({
      principal: body.principal,
      resource: body.resource,
      permission,
      access: result.allow ? 'GRANTED' : 'NOT_GRANTED',
      reason: result.reason,
      bindings: result.bindings,
      notes,
      evaluatedAt: new Date(now).toISOString(),
    })
  })
}

async function serviceOf(store: StoreTx, resource: string) {
  const [, projectId, , serviceId] = resource.split('/')
  return store.getService(projectId!, serviceId!)
}

/** Explaining access to what is not there would answer NOT GRANTED and suggest a command that fails. */
async function resourceExists(store: StoreTx, name: string): Promise<boolean> {
  const [, projectId, kind, id] = name.split('/')
  if (name === ORGANIZATION) return true
  if (!(await store.getProject(projectId!))) return false
  if (kind === 'services') return Boolean(await store.getService(projectId!, id!))
  if (kind === 'serviceAccounts') return (await store.getServiceAccount(id!))?.projectId === projectId
  return true
}
