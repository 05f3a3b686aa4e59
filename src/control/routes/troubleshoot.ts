import * as z from 'zod'
import { invalid } from '../../core/errors.js'
import { parseWith } from '../../core/validate.js'
import { explain } from '../../iam/explain.js'
import { FEDERATION_PREFIX, parseMember } from '../../iam/members.js'
import { principalMembers, type Principal } from '../../iam/principal.js'
import { lineage, ORGANIZATION, projectName, resourceType } from '../../iam/resources.js'
import { parsePermission, rolesGranting } from '../../iam/roles.js'
import type { Router } from '../../http/router.js'
import type { StoreTx } from '../../store/store.js'
import { check } from '../access.js'
import { missingResource } from '../missing-resource.js'
import { allowRead, ok, type Handler } from '../handler.js'
import { projectOfAccount } from './service-accounts.js'

const Body = z.strictObject({ principal: z.string().max(300), resource: z.string().max(300), permission: z.string().max(200).optional() })

const GET_POLICY: Record<string, string> = {
  'postern.organization/Organization': 'resourcemanager.organizations.getIamPolicy',
  'postern.project/Project': 'resourcemanager.projects.getIamPolicy',
  'run.postern/Service': 'run.services.getIamPolicy',
  'iam.postern/ServiceAccount': 'iam.serviceAccounts.getIamPolicy',
}

/** What the caller may see of the answer (POST /v1/troubleshoot answers only with that). */
interface Visibility {
  /** May the caller read the policy of this resource? */
  policy(resource: string): boolean
  /** May the caller know whether this account exists and is enabled? */
  accounts(member: string): boolean
  /** May the caller read group memberships (postern.groups.get)? */
  groups: boolean
  /** May the caller read workforce pools and their subjects' last sign-ins? */
  federation: boolean
  /** May the caller read the service itself (its invoker check and audience settings)? */
  service(resource: string): boolean
}

function visibilityOf(may: (permission: string, resource: string) => boolean): Visibility {
  return {
    policy: (resource) => may(GET_POLICY[resourceType(resource)]!, resource),
    accounts: (member) => {
      if (member.startsWith('user:')) return may('postern.users.list', ORGANIZATION)
      const email = member.slice(member.indexOf(':') + 1)
      try {
        return may('iam.serviceAccounts.list', projectName(projectOfAccount(email)))
      } catch {
        return false
      }
    },
    groups: may('postern.groups.get', ORGANIZATION),
    federation: may('iam.workforcePools.get', ORGANIZATION),
    service: (resource) => may('run.services.get', resource),
  }
}

/**
 * Turns a member string into the principal it would be if it called, with notes on its state
 * when the caller may know it, and what stays hidden otherwise.
 */
async function principalFor(store: StoreTx, raw: string, see: Visibility): Promise<{ principal: Principal; notes: string[]; hidden: string[]; missing?: true }> {
  const member = parseMember(raw)
  const notes: string[] = []
  const hidden: string[] = []
  if (member.startsWith('user:') || member.startsWith('serviceAccount:')) {
    const kind = member.startsWith('user:') ? 'user' : 'serviceAccount'
    const email = member.slice(member.indexOf(':') + 1)
    if (!see.accounts(member)) {
      const needs = kind === 'user' ? `postern.users.list on ${ORGANIZATION}` : 'iam.serviceAccounts.list on its project'
      hidden.push(`Whether ${member} exists and is enabled is hidden: it needs ${needs}.`)
      return { principal: { kind, email, uid: '' }, notes, hidden }
    }
    const record = kind === 'user' ? await store.getUser(email) : await store.getServiceAccount(email)
    if (!record) notes.push(`${member} does not exist in Postern (yet); its bindings would apply to it once it does.`)
    else if (record.disabled) notes.push(`${member} is disabled: its tokens are refused before any policy is consulted.`)
    return { principal: { kind, email, uid: record?.uid ?? '' }, notes, hidden, ...(!record && { missing: true as const }) }
  }
  if (member.startsWith('principal://')) {
    const [pool, , ...rest] = member.slice(`principal://${FEDERATION_PREFIX}`.length).split('/')
    const subject = rest.join('/')
    if (!see.federation) {
      hidden.push(`The workforce pool ${pool} and the groups and attributes of ${member} are hidden: they need iam.workforcePools.get on ${ORGANIZATION}.`)
      return { principal: { kind: 'federated', pool: pool!, subject, uid: member, groups: [], attributes: {} }, notes, hidden }
    }
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
    return { principal: { kind: 'federated', pool: pool!, subject, uid: seen?.uid ?? member, groups: seen?.groups ?? [], attributes: seen?.attributes ?? {} }, notes, hidden }
  }
  throw invalid(`Troubleshoot a user:, serviceAccount: or principal:// member, not '${member}'.`)
}

/** Members whose match the caller may not learn: groups, or a pool's group and attribute sets. */
function undisclosed(member: string, principal: Principal, see: Visibility): boolean {
  if (member.startsWith('group:')) return !see.groups
  if (principal.kind === 'federated' && !see.federation) {
    const base = `principalSet://${FEDERATION_PREFIX}${principal.pool}/`
    return member.startsWith(`${base}group/`) || member.startsWith(`${base}attribute.`)
  }
  return false
}

/**
 * POST /v1/troubleshoot: which binding grants, or why none does — answered only with
 * what the caller may read, as getIamPolicy and the list calls would answer them: the bindings
 * of resources on whose policy the caller holds getIamPolicy, group memberships with
 * postern.groups.get, whether an account exists with the permission to list such accounts.
 * When what is hidden could change the verdict, the verdict is UNKNOWN and `hidden` says what
 * is missing (Google's Policy Troubleshooter answers UNKNOWN_INFO_DENIED the same way).
 */
export function troubleshootRoutes(r: Router<Handler>): void {
  r.add('POST', '/v1/troubleshoot', async (c) => {
    const body = parseWith(Body, await c.json())
    const type = resourceType(body.resource)
    const permission = parsePermission(body.permission ?? 'run.routes.invoke')
    const caller = allowRead(c, GET_POLICY[type]!, body.resource)
    if (!(await resourceExists(c.deps.store, body.resource))) throw missingResource(body.resource)
    const now = c.deps.clock()
    const { directory } = c.deps
    const see = visibilityOf((p, resource) => check(directory, caller.principal, p, resource, now).allow)
    const { principal, notes, hidden, missing } = await principalFor(c.deps.store, body.principal, see)

    const policies = directory.policyChain(body.resource).filter((p) => see.policy(p.resource))
    for (const resource of lineage(body.resource)) {
      if (!see.policy(resource)) hidden.push(`The IAM policy of ${resource} is hidden: it needs ${GET_POLICY[resourceType(resource)]} there.`)
    }
    const members = new Set([...principalMembers(principal, directory.groups)].filter((m) => !undisclosed(m, principal, see)))
    if (!see.groups) hidden.push(`Group memberships are hidden: they need postern.groups.get on ${ORGANIZATION}.`)
    const result = explain({ policies, members, permission, resource: { name: body.resource, type }, now })
    const policyHidden = lineage(body.resource).some((resource) => !see.policy(resource))
    const membershipHidden = policies.some((p) =>
      [...rolesGranting(permission)].some((role) => {
        const grants = p.byRole.get(role)
        const hides = (names: Iterable<string>) => [...names].some((m) => undisclosed(m, principal, see))
        return grants !== undefined && (hides(grants.unconditional) || grants.conditional.some((g) => hides(g.members)))
      }),
    )
    const access = result.allow ? 'GRANTED' : policyHidden || membershipHidden ? 'UNKNOWN' : 'NOT_GRANTED'

    const service = type === 'run.postern/Service' && see.service(body.resource) ? await serviceOf(c.deps.store, body.resource) : undefined
    if (service?.invokerIamDisabled && permission === 'run.routes.invoke') notes.push('The service has invokerIamDisabled: the gateway lets every request through without a token.')
    if (service?.strictAudience && permission === 'run.routes.invoke') {
      notes.push(`The service has strictAudience: only tokens whose aud is the service URL${service.customAudiences.length ? ' or one of its custom audiences' : ''} are accepted; get one with 'postern auth print-identity-token --audiences SERVICE_URL'.`)
    }
    if (access === 'UNKNOWN') notes.push(`No binding you may read grants ${permission} to ${body.principal}, but parts you may not read could: see hidden.`)
    else if (!result.allow && result.reason === 'no-binding') notes.push(`No binding on ${body.resource} or its ancestors grants ${permission} to ${body.principal} or a group it is in.`)
    if (result.reason === 'condition-false') notes.push('A binding names the principal, but its condition is false now.')
    if (result.reason === 'condition-error') notes.push('A binding names the principal, but its condition failed to evaluate, which grants nothing.')
    return ok({
      principal: body.principal,
      resource: body.resource,
      permission,
      access,
      reason: access === 'UNKNOWN' ? 'hidden' : result.reason,
      bindings: result.bindings,
      notes,
      hidden,
      // A user or service account known not to exist (a grant to it would be refused until it does).
      ...(missing && { principalMissing: true }),
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
