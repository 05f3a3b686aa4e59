import { notFound, type PosternError } from '../core/errors.js'

/**
 * The NOT_FOUND for a resource named in full, in the words `describe` uses for it: a policy
 * command on a service that is not there reads as `services describe` on it does.
 */
export function missingResource(resource: string): PosternError {
  const service = /^projects\/([^/]+)\/services\/([^/]+)$/.exec(resource)
  if (service) return notFound(`Service '${service[2]}' not found in project '${service[1]}'.`)
  const account = /^projects\/([^/]+)\/serviceAccounts\/([^/]+)$/.exec(resource)
  if (account) return notFound(`Service account '${account[2]}' not found in project '${account[1]}'.`)
  const project = /^projects\/([^/]+)$/.exec(resource)
  if (project) return notFound(`Project '${project[1]}' not found.`)
  return notFound(`Resource '${resource}' not found.`)
}
