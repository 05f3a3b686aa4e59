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

const PERMISSIONS: Record<Permission, Kind> = {
  'run.services.get': 'read',
  'run.services.list': 'read',
  'run.services.getIamPolicy': 'read',
  'run.services.create': 'write',
  'run.services.update': 'write',
  'run.services.delete': 'write',
  'run.services.setIamPolicy': 'setIamPolicy',
  'run.routes.invoke': 'invoke',
  'resourcemanager.organizations.get': 'read',
  'resourcemanager.organizations.getIamPolicy': 'read',
  'resourcemanager.organizations.setIamPolicy': 'setIamPolicy',
  'resourcemanager.projects.get': 'read',
  'resourcemanager.projects.list': 'read',
  'resourcemanager.projects.getIamPolicy': 'read',
  'resourcemanager.projects.create': 'admin',
  'resourcemanager.projects.delete': 'admin',
  'resourcemanager.projects.setIamPolicy': 'setIamPolicy',
  'iam.serviceAccounts.get': 'read',
  'iam.serviceAccounts.list': 'read',
  'iam.serviceAccounts.getIamPolicy': 'read',
  'iam.serviceAccounts.create': 'write',
  'iam.serviceAccounts.update': 'write',
  'iam.serviceAccounts.delete': 'write',
  'iam.serviceAccounts.setIamPolicy': 'setIamPolicy',
  'iam.serviceAccounts.getOpenIdToken': 'impersonate',
  'iam.serviceAccounts.getAccessToken': 'impersonate',
  'iam.serviceAccountKeys.get': 'read',
  'iam.serviceAccountKeys.list': 'read',
  'iam.serviceAccountKeys.create': 'write',
  'iam.serviceAccountKeys.delete': 'write',
  'iam.workforcePools.get': 'read',
  'iam.workforcePools.list': 'read',
  'iam.workforcePools.create': 'admin',
  'iam.workforcePools.update': 'admin',
  'iam.workforcePools.delete': 'admin',
  'postern.users.get': 'read',
  'postern.users.list': 'read',
  'postern.users.create': 'admin',
  'postern.users.update': 'admin',
  'postern.users.delete': 'admin',
  'postern.groups.get': 'read',
  'postern.groups.list': 'read',
  'postern.groups.create': 'admin',
  'postern.groups.update': 'admin',
  'postern.groups.delete': 'admin',
  'logging.logEntries.list': 'read',
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

const SERVICE: ResourceType = 'run.postern/Service'
const SERVICE_ACCOUNT: ResourceType = 'iam.postern/ServiceAccount'
const PROJECT: ResourceType = 'postern.project/Project'
const ORGANIZATION_TYPE: ResourceType = 'postern.organization/Organization'
const DOWN_TO = { service: [SERVICE, PROJECT, ORGANIZATION_TYPE], serviceAccount: [SERVICE_ACCOUNT, PROJECT, ORGANIZATION_TYPE], project: [PROJECT, ORGANIZATION_TYPE] } as const

const all = Object.keys(PERMISSIONS)
const ofKinds = (...kinds: Kind[]) => all.filter((p) => kinds.includes(PERMISSIONS[p]!))
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
    all.filter((p) => (p.startsWith('iam.serviceAccounts.') || p.startsWith('iam.serviceAccountKeys.')) && PERMISSIONS[p] !== 'impersonate'),
    'serviceAccount',
  ),
  role('roles/viewer', 'Viewer', 'Read everything: every get, list and getIamPolicy.', ofKinds('read'), 'project'),
  role('roles/editor', 'Editor', 'Viewer, plus create, update, delete and invoke.', ofKinds('read', 'write', 'invoke'), 'project'),
  role('roles/owner', 'Owner', 'Everything, including IAM policies, projects, users and groups.', all, 'project'),
]

function role(name: Role, title: string, description: string, permissions: Permission[], lowest: keyof typeof DOWN_TO): RoleDefinition {
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
