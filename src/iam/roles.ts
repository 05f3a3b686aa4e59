import { invalid } from '../core/errors.js'
import { unsupportedRole } from '../core/unsupported-role.js'
import type { ResourceType } from './conditions.js'
import { printable } from './members.js'

/**
 * The role catalogue, DESIGN §1. Basic roles are derived from each permission's kind so that a
 * permission added here lands in viewer/editor/owner without anyone editing three lists.
 */
export type Role = `roles/${string}`
export type Permission = string

type Kind = 'read' | 'write' | 'invoke' | 'setIamPolicy' | 'admin' | 'impersonate'

/**
 * The kind of resource a permission is checked on: the one the control API names in its check
 * (`allowRead`, `mutate`'s `checkOn`, the gateway's invoke), the lowest where several are. A
 * service is created in a project, so `run.services.create` is checked on the project;
 * `authorize` refuses to check a permission anywhere else, which keeps this column true.
 */
type Level = keyof typeof DOWN_TO

const SERVICE: ResourceType = 'run.postern/Service'
const SERVICE_ACCOUNT: ResourceType = 'iam.postern/ServiceAccount'
const PROJECT: ResourceType = 'postern.project/Project'
const ORGANIZATION_TYPE: ResourceType = 'postern.organization/Organization'
/** Each level and the ones above it, whose policies reach it. */
const DOWN_TO = {
  service: [SERVICE, PROJECT, ORGANIZATION_TYPE],
  serviceAccount: [SERVICE_ACCOUNT, PROJECT, ORGANIZATION_TYPE],
  project: [PROJECT, ORGANIZATION_TYPE],
  organization: [ORGANIZATION_TYPE],
} as const

const PERMISSIONS: Record<Permission, readonly [Kind, Level]> = {
  'run.services.get': ['read', 'service'],
  'run.services.list': ['read', 'project'],
  'run.services.getIamPolicy': ['read', 'service'],
  'run.services.create': ['write', 'project'],
  'run.services.update': ['write', 'service'],
  'run.services.delete': ['write', 'service'],
  'run.services.setIamPolicy': ['setIamPolicy', 'service'],
  'run.routes.invoke': ['invoke', 'service'],
  'resourcemanager.organizations.get': ['read', 'organization'],
  'resourcemanager.organizations.getIamPolicy': ['read', 'organization'],
  'resourcemanager.organizations.setIamPolicy': ['setIamPolicy', 'organization'],
  'resourcemanager.projects.get': ['read', 'project'],
  'resourcemanager.projects.list': ['read', 'organization'],
  'resourcemanager.projects.getIamPolicy': ['read', 'project'],
  'resourcemanager.projects.create': ['admin', 'organization'],
  'resourcemanager.projects.delete': ['admin', 'project'],
  'resourcemanager.projects.setIamPolicy': ['setIamPolicy', 'project'],
  'iam.serviceAccounts.get': ['read', 'serviceAccount'],
  'iam.serviceAccounts.list': ['read', 'project'],
  'iam.serviceAccounts.getIamPolicy': ['read', 'serviceAccount'],
  'iam.serviceAccounts.create': ['write', 'project'],
  'iam.serviceAccounts.update': ['write', 'serviceAccount'],
  'iam.serviceAccounts.delete': ['write', 'serviceAccount'],
  'iam.serviceAccounts.setIamPolicy': ['setIamPolicy', 'serviceAccount'],
  'iam.serviceAccounts.getOpenIdToken': ['impersonate', 'serviceAccount'],
  'iam.serviceAccounts.getAccessToken': ['impersonate', 'serviceAccount'],
  'iam.serviceAccountKeys.get': ['read', 'serviceAccount'],
  'iam.serviceAccountKeys.list': ['read', 'serviceAccount'],
  'iam.serviceAccountKeys.create': ['write', 'serviceAccount'],
  'iam.serviceAccountKeys.delete': ['write', 'serviceAccount'],
  'iam.workforcePools.get': ['read', 'organization'],
  'iam.workforcePools.list': ['read', 'organization'],
  'iam.workforcePools.create': ['admin', 'organization'],
  'iam.workforcePools.update': ['admin', 'organization'],
  'iam.workforcePools.delete': ['admin', 'organization'],
  'postern.users.get': ['read', 'organization'],
  'postern.users.list': ['read', 'organization'],
  'postern.users.create': ['admin', 'organization'],
  'postern.users.update': ['admin', 'organization'],
  'postern.users.delete': ['admin', 'organization'],
  'postern.groups.get': ['read', 'organization'],
  'postern.groups.list': ['read', 'organization'],
  'postern.groups.create': ['admin', 'organization'],
  'postern.groups.update': ['admin', 'organization'],
  'postern.groups.delete': ['admin', 'organization'],
  'logging.logEntries.list': ['read', 'organization'],
}

export interface RoleDefinition {
  name: Role
  title: string
  description: string
  includedPermissions: readonly Permission[]
  /**
   * The resource types whose policies may grant this role: the lowest one where it means
   * something, and everything above it (Google's "lowest-level resources where you can grant
   * this role"). The run roles go down to a service, the service-account roles to a service
   * account, the basic roles only to a project: on a service, Owner would promise projects, users
   * and groups and give none of them.
   */
  grantableOn: readonly ResourceType[]
}

const all = Object.keys(PERMISSIONS)
const ofKinds = (...kinds: Kind[]) => all.filter((p) => kinds.includes(PERMISSIONS[p]![0]))
const runViewer = ['run.services.get', 'run.services.list', 'run.services.getIamPolicy']
const runDeveloper = [...runViewer, 'run.services.create', 'run.services.update', 'run.services.delete', 'run.routes.invoke']

const DEFINITIONS: RoleDefinition[] = [
  role('roles/run.invoker', 'Run Invoker', 'Invoke services.', ['run.routes.invoke'], 'service'),
  role('roles/run.viewer', 'Run Viewer', 'Read services and their IAM policies.', runViewer, 'service'),
  role('roles/run.developer', 'Run Developer', 'Create, update, delete and invoke services.', runDeveloper, 'service'),
  role('roles/run.admin', 'Run Admin', 'Everything on services, including their IAM policies.', [...runDeveloper, 'run.services.setIamPolicy'], 'service'),
  role('roles/iam.serviceAccountTokenCreator', 'Service Account Token Creator', 'Mint ID and access tokens for a service account (impersonation).', ofKinds('impersonate'), 'serviceAccount'),
  role(
    'roles/iam.serviceAccountAdmin',
    'Service Account Admin',
    'Create and manage service accounts and their keys. Does not include minting tokens as them.',
    all.filter((p) => (p.startsWith('iam.serviceAccounts.') || p.startsWith('iam.serviceAccountKeys.')) && PERMISSIONS[p]![0] !== 'impersonate'),
    'serviceAccount',
  ),
  role('roles/viewer', 'Viewer', 'Read everything: every get, list and getIamPolicy.', ofKinds('read'), 'project'),
  role('roles/editor', 'Editor', 'Viewer, plus create, update, delete and invoke.', ofKinds('read', 'write', 'invoke'), 'project'),
  role('roles/owner', 'Owner', 'Everything, including IAM policies, projects, users and groups.', all, 'project'),
]

function role(name: Role, title: string, description: string, permissions: Permission[], lowest: Exclude<Level, 'organization'>): RoleDefinition {
  return { name, title, description, includedPermissions: Object.freeze([...permissions].sort()), grantableOn: DOWN_TO[lowest] }
}

const BY_NAME = new Map(DEFINITIONS.map((d) => [d.name, d]))

/** permission → roles that grant it; lets decide() look only at the bindings that matter. */
const ROLES_GRANTING = new Map<Permission, Set<Role>>()
for (const d of DEFINITIONS) {
  for (const p of d.includedPermissions) {
    let roles = ROLES_GRANTING.get(p)
    if (!roles) ROLES_GRANTING.set(p, (roles = new Set()))
    roles.add(d.name)
  }
}

/** The narrowest role that grants a permission: the least one to ask for. */
export function narrowestRoleGranting(permission: Permission): RoleDefinition | undefined {
  return DEFINITIONS.filter((d) => d.includedPermissions.includes(permission)).sort((a, b) => a.includedPermissions.length - b.includedPermissions.length)[0]
}

export function listRoles(): readonly RoleDefinition[] {
  return DEFINITIONS
}

export function getRole(name: string): RoleDefinition | undefined {
  return BY_NAME.get(name as Role)
}

export function parseRole(raw: unknown): Role {
  if (typeof raw !== 'string' || !BY_NAME.has(raw as Role)) throw invalid(unsupportedRole(raw, DEFINITIONS))
  return raw as Role
}

export function isPermission(raw: string): boolean {
  // Own keys only: `in` would also accept 'constructor', 'toString', '__proto__'.
  return Object.hasOwn(PERMISSIONS, raw)
}

export function parsePermission(raw: unknown): Permission {
  if (typeof raw !== 'string' || !isPermission(raw)) {
    throw invalid(`Permission '${typeof raw === 'string' ? printable(raw) : String(raw)}' is not known.`)
  }
  return raw
}

export function rolesGranting(permission: Permission): ReadonlySet<Role> {
  return ROLES_GRANTING.get(permission) ?? new Set()
}

export function roleGrants(role: Role, permission: Permission): boolean {
  return ROLES_GRANTING.get(permission)?.has(role) ?? false
}

/** Whether a policy on a resource of this type may grant the role. */
export function grantableOn(role: Role, type: ResourceType): boolean {
  return BY_NAME.get(role)?.grantableOn.includes(type) ?? false
}

/** The roles a policy on a resource of this type may grant, in catalogue order. */
export function rolesGrantableOn(type: ResourceType): Role[] {
  return DEFINITIONS.filter((d) => d.grantableOn.includes(type)).map((d) => d.name)
}

/** The kind of resource a permission is checked on (the lowest, where it is checked on several). */
export function checkedOn(permission: Permission): ResourceType {
  return DOWN_TO[PERMISSIONS[permission]![1]][0]
}

/**
 * Whether a permission means anything on a resource of this type: it is checked on that type or
 * on one below it, which a grant here reaches (Google's "Permission X is not valid for this
 * resource" otherwise). `run.services.get` on a project is whether every service in it may be
 * read; `postern.users.update` on a project is never asked anywhere.
 */
export function appliesTo(permission: Permission, type: ResourceType): boolean {
  return isPermission(permission) && (DOWN_TO[PERMISSIONS[permission]![1]] as readonly ResourceType[]).includes(type)
}
