import { invalid } from '../core/errors.js'
import type { ResourceType } from './conditions.js'
import { printable } from './members.js'
import { SERVICE_ID, SERVICE_ID_RULE, serviceIdProblem } from '../api/service-name.js'
import { PROJECT_ID, PROJECT_ID_RULE } from '../api/project-id.js'

/**
 * Resource names and the hierarchy policies are inherited through, DESIGN §1:
 * organizations/local → projects/P → projects/P/services/S | projects/P/serviceAccounts/EMAIL.
 */
export const ORGANIZATION = 'organizations/local'

export { PROJECT_ID, SERVICE_ID }

export type ResourceName = string

export function projectName(projectId: string): ResourceName {
  return `projects/${projectId}`
}

export function serviceName(projectId: string, serviceId: string): ResourceName {
  return `projects/${projectId}/services/${serviceId}`
}

export function serviceAccountName(projectId: string, email: string): ResourceName {
  return `projects/${projectId}/serviceAccounts/${email}`
}

export function parseProjectId(raw: unknown): string {
  if (typeof raw !== 'string' || !PROJECT_ID.test(raw)) {
    throw invalid(`Invalid project id '${printable(String(raw))}': ${PROJECT_ID_RULE}.`)
  }
  return raw
}

export function parseServiceId(raw: unknown): string {
  if (typeof raw !== 'string') throw invalid(`Invalid service name: ${SERVICE_ID_RULE}.`)
  const problem = serviceIdProblem(raw)
  if (problem) throw invalid(problem)
  return raw
}

export function resourceType(name: ResourceName): ResourceType {
  if (name === ORGANIZATION) return 'postern.organization/Organization'
  if (/^projects\/[^/]+$/.test(name)) return 'postern.project/Project'
  if (/^projects\/[^/]+\/services\/[^/]+$/.test(name)) return 'run.postern/Service'
  if (/^projects\/[^/]+\/serviceAccounts\/[^/]+$/.test(name)) return 'iam.postern/ServiceAccount'
  throw invalid(`Unknown resource '${printable(name)}'.`)
}

/** The resource itself followed by every ancestor whose policy it inherits. */
export function lineage(name: ResourceName): ResourceName[] {
  // Only names resourceType() knows inherit anything: 'projects/p/' or 'projects/p/x/y/z' would
  // otherwise pick up the project's and organization's grants.
  const type = resourceType(name)
  if (type === 'postern.organization/Organization') return [name]
  const project = projectName(name.split('/')[1]!)
  return type === 'postern.project/Project' ? [project, ORGANIZATION] : [name, project, ORGANIZATION]
}
