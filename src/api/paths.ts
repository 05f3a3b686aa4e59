/** The control API's paths (DESIGN §5); each segment is escaped once, here. */
export const paths = {
  projects: () => '/v1/projects',
  project: (p: string) => `/v1/projects/${enc(p)}`,
  organization: () => '/v1/organizations/local',
  services: (p: string) => `/v2/projects/${enc(p)}/services`,
  service: (p: string, s: string) => `/v2/projects/${enc(p)}/services/${enc(s)}`,
  serviceAccounts: (p: string) => `/v1/projects/${enc(p)}/serviceAccounts`,
  serviceAccount: (p: string, email: string) => `/v1/projects/${enc(p)}/serviceAccounts/${enc(email)}`,
  roles: () => '/v1/roles',
  users: () => '/v1/users',
  user: (email: string) => `/v1/users/${enc(email)}`,
  groups: () => '/v1/groups',
  group: (email: string) => `/v1/groups/${enc(email)}`,
  groupMembers: (email: string) => `/v1/groups/${enc(email)}/members`,
  groupMember: (email: string, member: string) => `/v1/groups/${enc(email)}/members/${enc(member)}`,
  auditLogs: (q: URLSearchParams) => `/v1/auditLogs?${q}`,
  workforcePools: () => '/v1/workforcePools',
  workforcePool: (pool: string) => `/v1/workforcePools/${enc(pool)}`,
  workforceProviders: (pool: string) => `/v1/workforcePools/${enc(pool)}/providers`,
  workforceProvider: (pool: string, provider: string) => `/v1/workforcePools/${enc(pool)}/providers/${enc(provider)}`,
}

/** The two IAM verbs on a resource path (`…/services/hello:getIamPolicy`). */
export const getIamPolicy = (resourcePath: string) => `${resourcePath}:getIamPolicy`
export const setIamPolicy = (resourcePath: string) => `${resourcePath}:setIamPolicy`

function enc(segment: string): string {
  return encodeURIComponent(segment)
}
